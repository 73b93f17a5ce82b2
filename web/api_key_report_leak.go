package web

import (
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/keyward/keyward/internal/model"
)

// reportLeakRequest is the body of POST /v1/keys/report-leak.
type reportLeakRequest struct {
	Keys []string `json:"keys"`
}

// reportLeakResponse is its answer, the same whatever was found.
type reportLeakResponse struct {
	Message string `json:"message"`
}

// handleAPIReportLeak serves POST /v1/keys/report-leak, for any valid key
// (no scope: whoever holds a leaked key can use it already): every keyward
// key among keys is revoked, whatever its team, and the calling key is
// named in the audit log of each key's team. The answer is the same, and
// takes as long, whether any of them existed.
func (s *Server) handleAPIReportLeak(c echo.Context) error {
	start := time.Now()
	var req reportLeakRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	if len(req.Keys) == 0 {
		return model.Errorf(model.EINVALID, "keys must list at least one key.")
	}
	if len(req.Keys) > maxLeakTokens {
		return errTooManyLeakTokens
	}
	sightings, _ := parseLeaked(strings.Join(req.Keys, "\n"))
	if err := s.reportLeaks(c.Request().Context(), start, sightings, keyActor(c)); err != nil {
		return err
	}
	return c.JSON(http.StatusOK, reportLeakResponse{Message: leakReportAnswer})
}
