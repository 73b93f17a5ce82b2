package web

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/keyward/keyward/internal/model"
	"github.com/keyward/keyward/views"
)

// Settings → Team: the team's policies. Owners change them; admins see them
// read-only (they create keys under them, so they should know them);
// members get 403 like every settings page.
//
// Fields (the dashboard contract): rotation_days and max_key_lifetime_days,
// each 0 (off), a preset number of days, or custom with the number in
// rotation_days_custom / max_key_lifetime_days_custom (1 to 3650).

// errTeamSettingsOwner refuses a change by a non-owner.
var errTeamSettingsOwner = model.Errorf(model.EFORBIDDEN, "Only team owners can change the team's settings.")

// handleTeamSettings serves GET /settings/team.
func (s *Server) handleTeamSettings(c echo.Context) error {
	team, err := s.store.FindTeamByID(c.Request().Context(), teamID(c))
	if err != nil {
		return err
	}
	return s.renderTeamSettings(c, http.StatusOK, views.TeamSettingsForm{
		Team: team, Values: views.TeamSettingsValuesOf(team.Settings()),
	})
}

// handleTeamSettingsSave serves POST /settings/team (OWNER only): saves the
// policies, writes team.settings_changed, and redirects back with a notice.
// Invalid input answers the form again (422) with the input kept.
func (s *Server) handleTeamSettingsSave(c echo.Context) error {
	if currentPrincipal(c).Membership.Role != model.RoleOwner {
		return errTeamSettingsOwner
	}
	form, err := c.FormParams()
	if err != nil {
		return model.Wrap(model.EINVALID, err, "The form could not be read.")
	}
	ctx := c.Request().Context()
	team, err := s.store.FindTeamByID(ctx, teamID(c))
	if err != nil {
		return err
	}
	vals, set, fe := parseTeamSettingsForm(form)
	if err := fe.Err(); err != nil {
		return s.renderTeamSettings(c, http.StatusUnprocessableEntity, views.TeamSettingsForm{
			Team: team, Values: vals, Errors: model.ErrorFields(err),
		})
	}
	if _, err := s.store.UpdateTeamSettings(ctx, teamID(c), set, actor(c)); err != nil {
		if model.ErrorCode(err) == model.EINVALID {
			return s.renderTeamSettings(c, http.StatusUnprocessableEntity, views.TeamSettingsForm{
				Team: team, Values: vals, Errors: model.ErrorFields(err),
			})
		}
		return err
	}
	if err := s.flash(c, "success", "Team settings saved."); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/settings/team")
}

func (s *Server) renderTeamSettings(c echo.Context, status int, f views.TeamSettingsForm) error {
	f.ReadOnly = currentPrincipal(c).Membership.Role != model.RoleOwner
	f.CSRF = csrfToken(c)
	return render(c, status, views.TeamSettingsPage(s.chrome(c, "team"), f))
}

// parseTeamSettingsForm reads the form into settings, keeping what was
// typed to show it again.
func parseTeamSettingsForm(form url.Values) (views.TeamSettingsValues, model.TeamSettings, model.FieldErrors) {
	fe := model.FieldErrors{}
	v := views.TeamSettingsValues{
		RotationDays:             strings.TrimSpace(form.Get("rotation_days")),
		RotationDaysCustom:       strings.TrimSpace(form.Get("rotation_days_custom")),
		MaxKeyLifetimeDays:       strings.TrimSpace(form.Get("max_key_lifetime_days")),
		MaxKeyLifetimeDaysCustom: strings.TrimSpace(form.Get("max_key_lifetime_days_custom")),
		LeakAction:               strings.TrimSpace(form.Get("leak_action")),
	}
	var set model.TeamSettings
	set.RotationDays = policyDays(fe, "rotation_days", v.RotationDays, v.RotationDaysCustom, views.RotationPresets)
	set.MaxKeyLifetimeDays = policyDays(fe, "max_key_lifetime_days", v.MaxKeyLifetimeDays, v.MaxKeyLifetimeDaysCustom, views.LifetimePresets)
	// Absent: keep the team's action (a form without the Leaked keys section).
	if _, sent := form["leak_action"]; sent {
		if !model.ValidLeakAction(v.LeakAction) {
			fe.Add("leak_action", "Choose whether a key found in public is revoked or only reported.")
		}
		set.LeakAction = v.LeakAction
	}
	return v, set, fe
}

// policyDays reads one day-count policy: 0, a preset, or custom with
// 1 to model.MaxTeamPolicyDays days.
func policyDays(fe model.FieldErrors, field, choice, custom string, presets []int) int {
	if choice == views.PolicyCustom {
		n, err := strconv.Atoi(custom)
		if err != nil || n < 1 || n > model.MaxTeamPolicyDays {
			fe.Add(field, "Enter a whole number of days from 1 to 3650.")
			return 0
		}
		return n
	}
	n, err := strconv.Atoi(choice)
	if err != nil || (n != 0 && !slices.Contains(presets, n)) {
		fe.Add(field, "Choose one of the options, or Custom with a number of days.")
		return 0
	}
	return n
}
