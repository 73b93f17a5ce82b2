package web

import (
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/keyward/keyward/internal/model"
)

// handleAPIKeyList serves GET /v1/api-keys: the team's keys, newest first
// by default, with the dashboard table's filters (q, status, environment,
// sort) and cursor pagination (limit, cursor → next_cursor).
func (s *Server) handleAPIKeyList(c echo.Context) error {
	now := s.now().UTC()
	f := model.KeyFilter{TeamID: apiKey(c).TeamID(), Now: now, After: c.QueryParam("cursor")}
	var err error
	if f.Limit, err = queryLimit(c, 50, 200); err != nil {
		return err
	}
	f.Query = strings.TrimSpace(c.QueryParam("q"))
	switch st := model.KeyStatus(c.QueryParam("status")); st {
	case "", model.StatusActive, model.StatusExpired, model.StatusRevoked:
		f.Status = st
	default:
		return model.Errorf(model.EINVALID, "status must be active, expired or revoked.")
	}
	switch env := c.QueryParam("environment"); env {
	case "", model.EnvLive, model.EnvTest:
		f.Environment = env
	default:
		return model.Errorf(model.EINVALID, "environment must be live or test.")
	}
	switch sort := c.QueryParam("sort"); sort {
	case "", model.KeySortCreated, model.KeySortLastUsed, model.KeySortName:
		f.Sort = sort
	default:
		return model.Errorf(model.EINVALID, "sort must be created, last_used or name.")
	}
	ks, next, err := s.store.FindKeyPage(c.Request().Context(), f)
	if err != nil {
		return err
	}
	out := make([]apiKeyJSON, len(ks))
	for i, k := range ks {
		out[i] = toAPIKey(k, now)
	}
	return c.JSON(http.StatusOK, newAPIList(out, next))
}
