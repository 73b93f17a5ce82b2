package web

import (
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/keyward/keyward/internal/model"
	"github.com/keyward/keyward/views"
)

// leakNoticeLimit is how many open leaks the key table's notice lists.
const leakNoticeLimit = 5

// leakNotices loads the team's open leaks for the key table's notice.
func (s *Server) leakNotices(c echo.Context, team string) (views.LeakNotices, error) {
	leaks, total, err := s.store.FindOpenLeaks(c.Request().Context(), teamID(c), leakNoticeLimit)
	if err != nil {
		return views.LeakNotices{}, err
	}
	return views.LeakNotices{Team: team, Leaks: leaks, Total: total, CSRF: csrfToken(c), Now: s.now().UTC()}, nil
}

// handleKeyLeakedForm serves GET /settings/api-keys/leaked: the "Report a
// leaked key" form. It changes nothing.
func (s *Server) handleKeyLeakedForm(c echo.Context) error {
	return render(c, http.StatusOK, views.KeyLeakedPage(s.chrome(c, "api-keys"), views.KeyLeakedForm{}))
}

// handleKeyLeaked serves POST /settings/api-keys/leaked (field keys, one
// per line): every keyward key in it is revoked, whatever its team, with
// the signed-in user named in each key's team's audit log. The answer is
// the same notice, after the same time, whether or not any key existed,
// so the form tells nobody which strings are keys of other teams.
func (s *Server) handleKeyLeaked(c echo.Context) error {
	start := time.Now()
	sightings, candidates := parseLeaked(c.FormValue("keys"))
	switch {
	case candidates == 0:
		return render(c, http.StatusUnprocessableEntity, views.KeyLeakedPage(s.chrome(c, "api-keys"),
			views.KeyLeakedForm{Error: "Paste at least one key, such as " + s.cfg.KeyPrefix + "_live_…"}))
	case len(sightings) > maxLeakTokens:
		return render(c, http.StatusUnprocessableEntity, views.KeyLeakedPage(s.chrome(c, "api-keys"),
			views.KeyLeakedForm{Error: model.ErrorMessage(errTooManyLeakTokens)}))
	}
	if err := s.reportLeaks(c.Request().Context(), start, sightings, actor(c)); err != nil {
		return err
	}
	if err := s.flash(c, "success", leakReportAnswer); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/settings/api-keys/leaked")
}

// handleKeyLeaksAcknowledge serves POST /settings/api-keys/leaked/acknowledge
// (field through): marks the team's open leaks up to that id as seen,
// which clears the notice on the key table. The marks on each key stay.
func (s *Server) handleKeyLeaksAcknowledge(c echo.Context) error {
	through, err := strconv.ParseInt(c.FormValue("through"), 10, 64)
	if err != nil || through <= 0 {
		return model.Errorf(model.EINVALID, "Reload the page and try again: the notice to acknowledge is missing.")
	}
	n, err := s.store.AcknowledgeLeaks(c.Request().Context(), teamID(c), through, actor(c))
	if err != nil {
		return err
	}
	msg := "Acknowledged. Each key's page still says where it was found."
	if n == 0 {
		msg = "Nothing left to acknowledge."
	}
	if err := s.flash(c, "success", msg); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/settings/api-keys")
}
