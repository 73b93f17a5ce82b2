package web

import (
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/keyward/keyward/internal/keys"
	"github.com/keyward/keyward/internal/model"
	"github.com/keyward/keyward/internal/store"
	"github.com/keyward/keyward/views"
)

// errRollRevoked refuses to roll a revoked key.
var errRollRevoked = model.Errorf(model.ECONFLICT, "A revoked key cannot be rolled. Create a new key instead.")

// handleKeyRollConfirm serves GET /settings/api-keys/:id/roll: the roll
// form (grace window for the old key, expiry of the new one), as a dialog
// under htmx and a page otherwise. A key rolled already answers 409 with a
// link to its successor; a revoked key 409. It changes nothing.
func (s *Server) handleKeyRollConfirm(c echo.Context) error {
	ctx := c.Request().Context()
	k, err := s.store.FindKeyByID(ctx, teamID(c), c.Param("id"))
	if err != nil {
		return err
	}
	now := s.now().UTC()
	c.Response().Header().Add("Vary", "HX-Request")
	if k.RevokedAt != nil {
		return errRollRevoked
	}
	if k.ReplacedBy != "" {
		return s.renderRolled(c, k, now)
	}
	team, err := s.store.FindTeamByID(ctx, teamID(c))
	if err != nil {
		return err
	}
	f := s.rollForm(c, k, team, now)
	f.Grace, f.Expires = views.DefaultRollGrace, views.RollExpiresSame
	if team.CheckLifetime(f.SameExpiry, now) != nil {
		f.Expires = views.RollExpiresMax
	}
	if c.QueryParam("from") == "details" {
		f.From = "details"
	}
	return s.renderRollForm(c, http.StatusOK, f)
}

// handleKeyRoll serves POST /settings/api-keys/:id/roll (fields
// expire_old_in: 0s|1h|24h|72h|168h, and expires for the new key:
// same|max|7d|30d|60d|90d|never). It creates the successor with the old
// key's name, permission and environment, ends the old key after the grace
// window, and answers the one-time reveal like a create: uncacheable, out
// of htmx's history, the table told to refresh. A bad choice or an expiry
// the team's policy refuses answers the form again (422).
func (s *Server) handleKeyRoll(c echo.Context) error {
	ctx := c.Request().Context()
	form, err := c.FormParams()
	if err != nil {
		return model.Wrap(model.EINVALID, err, "The form could not be read.")
	}
	old, err := s.store.FindKeyByID(ctx, teamID(c), c.Param("id"))
	if err != nil {
		return err
	}
	now := s.now().UTC()
	if old.RevokedAt != nil {
		return errRollRevoked
	}
	if old.ReplacedBy != "" {
		return s.renderRolled(c, old, now)
	}
	team, err := s.store.FindTeamByID(ctx, teamID(c))
	if err != nil {
		return err
	}
	f := s.rollForm(c, old, team, now)
	f.Grace = strings.TrimSpace(form.Get("expire_old_in"))
	f.Expires = strings.TrimSpace(form.Get("expires"))
	if form.Get("from") == "details" {
		f.From = "details"
	}
	fe := model.FieldErrors{}
	var grace time.Duration
	if !slices.ContainsFunc(views.RollGraceChoices, func(g struct{ Value, Label string }) bool { return g.Value == f.Grace }) {
		fe.Add("expire_old_in", "Choose how long the old key keeps working: now, 1 hour, 24 hours, 3 days or 7 days.")
	} else {
		grace, _ = time.ParseDuration(f.Grace)
	}
	var exp *time.Time
	switch f.Expires {
	case views.RollExpiresSame:
		exp = f.SameExpiry
	case views.RollExpiresMax:
		if limit, ok := team.LifetimeLimit(now); ok {
			exp = &limit
		} else {
			fe.Add("expires_at", "Choose when the new key expires.")
		}
	case views.RollExpiresNever:
	default:
		if d, ok := expiryPresets[f.Expires]; ok {
			t := now.Add(d)
			exp = &t
		} else {
			fe.Add("expires_at", "Choose when the new key expires.")
		}
	}
	if err := fe.Err(); err != nil {
		f.Errors = model.ErrorFields(err)
		return s.renderRollForm(c, http.StatusUnprocessableEntity, f)
	}

	n, raw, err := SuccessorKey(s.cfg.KeyPrefix, old, exp)
	if err != nil {
		return err
	}
	got, err := s.store.RollKey(ctx, teamID(c), old.PublicID, store.KeyRoll{New: &n, Grace: grace}, actor(c))
	switch {
	case err == nil:
	case model.ErrorCode(err) == model.EINVALID:
		f.Errors = model.ErrorFields(err)
		if len(f.Errors) == 0 {
			f.Errors = map[string]string{"expires_at": model.ErrorMessage(err)}
		}
		return s.renderRollForm(c, http.StatusUnprocessableEntity, f)
	case model.ErrorFields(err)["replaced_by"] != "":
		old.ReplacedBy = model.ErrorFields(err)["replaced_by"]
		return s.renderRolled(c, old, now)
	default:
		return err
	}

	noStore(c)
	r := s.keyReveal(c, n, raw, now)
	r.Old = &got
	if isHTMX(c) {
		c.Response().Header().Set("HX-Trigger", "keys-changed")
		r.Dialog = true
		return render(c, http.StatusOK, views.KeyRevealDialog(r))
	}
	return render(c, http.StatusOK, views.KeyRevealPage(s.chrome(c, "api-keys"), r))
}

// SuccessorKey makes the value of a roll's new key (expiring at exp, nil
// for never) in the old key's environment; raw is the key itself, shown
// once. The store copies the rest from the old key.
func SuccessorKey(prefix string, old model.APIKey, exp *time.Time) (model.APIKey, string, error) {
	raw, err := keys.Generate(prefix, old.Environment)
	if err != nil {
		return model.APIKey{}, "", model.Wrap(model.EINTERNAL, err, "")
	}
	return model.APIKey{
		PublicID: keys.NewPublicID("key"), TeamID: old.TeamID, Environment: old.Environment,
		KeyHash: keys.Hash(raw), Hint: keys.Hint(raw), ExpiresAt: exp,
	}, raw, nil
}

func (s *Server) rollForm(c echo.Context, k model.APIKey, team model.Team, now time.Time) views.KeyRollForm {
	return views.KeyRollForm{
		Key: k, SameExpiry: SameLifetime(k, now), MaxLifetimeDays: team.MaxKeyLifetimeDays,
		CSRF: csrfToken(c), Now: now,
	}
}

func (s *Server) renderRollForm(c echo.Context, status int, f views.KeyRollForm) error {
	c.Response().Header().Add("Vary", "HX-Request")
	if isHTMX(c) {
		f.Dialog = true
		return render(c, status, views.KeyRollDialog(f))
	}
	return render(c, status, views.KeyRollPage(s.chrome(c, "api-keys"), f))
}

// renderRolled answers 409: the key was rolled already, with a link to its
// successor.
func (s *Server) renderRolled(c echo.Context, k model.APIKey, now time.Time) error {
	r := views.KeyRolled{Key: k, Now: now}
	if isHTMX(c) {
		r.Dialog = true
		c.Response().Header().Set("HX-Retarget", "#dialogs")
		c.Response().Header().Set("HX-Reswap", "innerHTML")
		return render(c, http.StatusConflict, views.KeyRolledDialog(r))
	}
	return render(c, http.StatusConflict, views.KeyRolledPage(s.chrome(c, "api-keys"), r))
}
