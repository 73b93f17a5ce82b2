package views

import (
	"strconv"

	"github.com/keyward/keyward/internal/model"
)

// TeamSettingsForm is Settings → Team: the team's policies, editable by
// owners and shown read-only to admins. Each policy is a section of the
// page (team_settings.templ) with its own fields in Values; a new policy
// adds a field to Values, a section, and its parsing in
// web/team_settings.go.
type TeamSettingsForm struct {
	Team   model.Team
	Values TeamSettingsValues
	Errors map[string]string
	// ReadOnly: the viewer is an admin, who may see but not change them.
	ReadOnly bool
	CSRF     string
}

// TeamSettingsValues are the form's fields as typed: a preset (off, or a
// number of days) and, with custom, the number in the _custom field.
type TeamSettingsValues struct {
	RotationDays             string // rotation_days: 0, 30, 60, 90, 180 or custom
	RotationDaysCustom       string // rotation_days_custom
	MaxKeyLifetimeDays       string // max_key_lifetime_days: 0, 30, 60, 90, 180, 365 or custom
	MaxKeyLifetimeDaysCustom string // max_key_lifetime_days_custom
	LeakAction               string // leak_action: revoke or notify
}

// Presets of the day-count policies.
var (
	RotationPresets = []int{30, 60, 90, 180}
	LifetimePresets = []int{30, 60, 90, 180, 365}
)

// PolicyCustom is the preset value that reads the _custom field.
const PolicyCustom = "custom"

// TeamSettingsValuesOf shows stored settings in the form: a preset when the
// number is one, else custom with the number.
func TeamSettingsValuesOf(s model.TeamSettings) TeamSettingsValues {
	var v TeamSettingsValues
	v.RotationDays, v.RotationDaysCustom = presetValue(s.RotationDays, RotationPresets)
	v.MaxKeyLifetimeDays, v.MaxKeyLifetimeDaysCustom = presetValue(s.MaxKeyLifetimeDays, LifetimePresets)
	v.LeakAction = s.LeakAction
	return v
}

func presetValue(days int, presets []int) (choice, custom string) {
	if days == 0 {
		return "0", ""
	}
	for _, p := range presets {
		if p == days {
			return strconv.Itoa(p), ""
		}
	}
	return PolicyCustom, strconv.Itoa(days)
}

// leakActionText describes the leak action for the read-only view.
func leakActionText(a string) string {
	if a == model.LeakNotify {
		return "Only tell the team; the key keeps working"
	}
	return "Revoke it at once"
}

// policyText describes a day-count policy for the read-only view.
func policyText(days int, off string) string {
	if days == 0 {
		return off
	}
	return model.Days(days)
}
