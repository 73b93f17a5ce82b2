package views

import (
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/keyward/keyward/internal/model"
)

// KeysPerPage is the number of keys on a page of the key table.
const KeysPerPage = 50

// KeyFilter is the state of the key table, kept in the query string only:
// q, status, env, sort and page. Values are already checked by the handler.
type KeyFilter struct {
	Query       string
	Status      string // "", active, expired, revoked
	Environment string // "", live, test
	Sort        string // created, last_used, name
	Page        int    // from 1
	// Hygiene is a hygiene panel filter: never_used, stale, no_expiry or
	// expiring (views/key_activity.go), or "".
	Hygiene string
}

// Active reports whether the filter narrows the table down.
func (f KeyFilter) Active() bool {
	return f.Query != "" || f.Status != "" || f.Environment != "" || f.Hygiene != ""
}

// Values is the filter as query parameters, leaving defaults out.
func (f KeyFilter) Values() url.Values {
	v := url.Values{}
	if f.Query != "" {
		v.Set("q", f.Query)
	}
	if f.Status != "" {
		v.Set("status", f.Status)
	}
	if f.Environment != "" {
		v.Set("env", f.Environment)
	}
	if f.Sort != "" && f.Sort != model.KeySortCreated {
		v.Set("sort", f.Sort)
	}
	if f.Hygiene != "" {
		v.Set("hygiene", f.Hygiene)
	}
	if f.Page > 1 {
		v.Set("page", strconv.Itoa(f.Page))
	}
	return v
}

// URL is the key table's address showing this filter.
func (f KeyFilter) URL() string {
	if q := f.Values().Encode(); q != "" {
		return "/settings/api-keys?" + q
	}
	return "/settings/api-keys"
}

// WithPage returns the filter on another page.
func (f KeyFilter) WithPage(p int) KeyFilter {
	f.Page = p
	return f
}

// KeyList is the API Keys page: one page of rows and what is needed to
// describe and navigate it.
type KeyList struct {
	Rows   []model.APIKey
	Filter KeyFilter
	Total  int64 // keys matching the filter, on every page
	// TeamHasKeys tells "no keys yet" from "no key matches the filter".
	TeamHasKeys bool
	// WithToolbar adds the toolbar to a table fragment, out of band (the
	// table refreshes itself after a change and the first key brings the
	// toolbar with it).
	WithToolbar bool
	Now         time.Time
	// Hygiene is the panel at the top of the table; Activity each row's
	// sparkline and refused calls, by key id (views/key_activity.go).
	Hygiene  Hygiene
	Activity map[int64]KeyActivity
	// Reminders are notices above the table (expiring keys without e-mail,
	// disabled webhook endpoints).
	Reminders []string
	// Leaks is the red notice of keys found in public, until acknowledged.
	Leaks LeakNotices
}

// Pages is the number of pages.
func (l KeyList) Pages() int {
	return max(1, int((l.Total+KeysPerPage-1)/KeysPerPage))
}

// RangeText describes the rows shown: "1–50 of 130 keys".
func (l KeyList) RangeText() string {
	if l.Total == 0 {
		return "No keys"
	}
	first := int64(l.Filter.Page-1)*KeysPerPage + 1
	last := first + int64(len(l.Rows)) - 1
	noun := " keys"
	if l.Total == 1 {
		noun = " key"
	}
	if first == 1 && last == l.Total {
		return strconv.FormatInt(l.Total, 10) + noun
	}
	return strconv.FormatInt(first, 10) + "–" + strconv.FormatInt(last, 10) + " of " + strconv.FormatInt(l.Total, 10) + noun
}

// KeyFormValues are the create and edit form's fields as the user typed them.
type KeyFormValues struct {
	Name        string
	Environment string
	Permission  string
	// Access is the scope picker: resource name to none, read or write.
	Access    map[string]string
	Expires   string // never, 7d, 30d, 60d, 90d, custom, keep (edit)
	ExpiresAt string // YYYY-MM-DD with custom
	// Restrictions, as typed: allowed_ips and allowed_referrers one entry
	// per line, rate_limit (empty: none) with rate_period, quota (empty:
	// none) with quota_refill (none|day|month) and quota_refill_amount.
	AllowedIPs        string
	AllowedReferrers  string
	RateLimit         string
	RatePeriod        string
	Quota             string
	QuotaRefill       string
	QuotaRefillAmount string
	// Preview is the restrictions in one sentence ("" when none or invalid).
	Preview string
}

// HasRestrictions reports whether any restriction field is filled, so the
// form's Restrictions section opens.
func (v KeyFormValues) HasRestrictions() bool {
	return strings.TrimSpace(v.AllowedIPs+v.AllowedReferrers+v.RateLimit+v.Quota) != ""
}

// RestrictionPreview is the live preview under the Restrictions section:
// the sentence, or what is wrong.
type RestrictionPreview struct {
	Sentence string
	Problem  string
}

// KeyForm is the create or edit form, as a dialog (htmx) or a page.
type KeyForm struct {
	// Key is the key being edited; its PublicID is empty when creating.
	Key       model.APIKey
	Values    KeyFormValues
	Errors    map[string]string
	Resources []model.Resource
	CSRF      string
	// FormToken makes a replayed create submit harmless (see key_create.go).
	FormToken string
	Dialog    bool
	Now       time.Time
}

// Editing reports whether the form edits an existing key.
func (f KeyForm) Editing() bool { return f.Key.PublicID != "" }

// Action is where the form posts.
func (f KeyForm) Action() string {
	if f.Editing() {
		return KeyURL(f.Key.PublicID)
	}
	return "/settings/api-keys"
}

// AccessTo returns the chosen access to a resource, none by default.
func (v KeyFormValues) AccessTo(resource string) string {
	if a := v.Access[resource]; a == "read" || a == "write" {
		return a
	}
	return "none"
}

// KeyReveal is the one-time reveal of a new key's raw value.
type KeyReveal struct {
	Key    model.APIKey
	Raw    string
	Dialog bool
	Now    time.Time
	// Old is the key this one replaced, for the reveal of a roll; nil
	// after a create.
	Old *model.APIKey
	// BaseURL is where this keyward answers (scheme and host), for the
	// quick start's curl call.
	BaseURL string
	// GatewayURL is where the gateway answers and GatewayPath a path of
	// the product's API the new key may GET through it; the quick start
	// adds a call through the gateway when both are set.
	GatewayURL, GatewayPath string
}

// QuickStart is a ready curl call that tries the new key: GET /v1/whoami
// with the key in X-API-Key.
func (r KeyReveal) QuickStart() string {
	return `curl -H "X-API-Key: ` + r.Raw + `" ` + r.BaseURL + "/v1/whoami"
}

// QuickStartGateway is a ready curl call of the product's API through the
// gateway with the new key ("" without a gateway, or when the key may GET
// none of its fixed paths).
func (r KeyReveal) QuickStartGateway() string {
	if r.GatewayURL == "" || r.GatewayPath == "" {
		return ""
	}
	return `curl -H "X-API-Key: ` + r.Raw + `" ` + r.GatewayURL + r.GatewayPath
}

// Title is the reveal's heading.
func (r KeyReveal) Title() string {
	if r.Old != nil {
		return "API key rolled"
	}
	return "API key created"
}

// KeyDetails is a key's details page.
type KeyDetails struct {
	Key       model.APIKey
	Events    []model.AuditEvent
	Usage     UsageChart
	Resources []model.Resource
	Now       time.Time
	CSRF      string
	// Refused is the calls refused since the key was revoked or expired
	// (views/key_activity.go).
	Refused RefusedCalls
	// RefusedToday counts today's (UTC) refused calls by reason.
	RefusedToday model.RefusedCounts
	// QuotaLeft is about what is left of the key's quota (with a quota).
	QuotaLeft int64
	// RotationDays is the team's rotation policy (0: off).
	RotationDays int
	// Notify is the key's events with their deliveries, newest first;
	// Endpoints names the team's webhook endpoints by id.
	Notify    []KeyEventDeliveries
	Endpoints map[int64]string
	// Leaks are the places where the key was found in public, newest first.
	Leaks []model.KeyLeak
}

// KeyEventDeliveries is one event about a key and its deliveries.
type KeyEventDeliveries struct {
	Event      model.Event
	Deliveries []model.Delivery
}

// deliveryTarget names where a delivery goes: an endpoint's URL or e-mail.
func deliveryTarget(d model.Delivery, endpoints map[int64]string) string {
	if d.Kind == model.DeliveryEmail {
		return "e-mail to owners and admins"
	}
	if d.EndpointID != nil {
		if u, ok := endpoints[*d.EndpointID]; ok {
			return u
		}
	}
	return "a deleted endpoint"
}

// Restrictions is the key's restrictions.
func (d KeyDetails) Restrictions() model.Restrictions { return d.Key.Restrictions() }

// NextRefill is when the key's quota is next refilled (zero: never).
func (d KeyDetails) NextRefill() time.Time {
	if q := d.Key.Restrictions().Quota; q != nil {
		return model.NextRefill(q.RefillPeriod, d.Now)
	}
	return time.Time{}
}

// RefusalLine is one reason's count of refused calls today.
type RefusalLine struct {
	Count int64
	Text  string
}

// RefusalsToday lists today's refused calls by reason, reasons without
// refusals left out: "312 calls refused by rate limit today".
func (d KeyDetails) RefusalsToday() []RefusalLine {
	c := d.RefusedToday
	var out []RefusalLine
	for _, r := range []struct {
		n    int64
		what string
	}{
		{c.IP, "IP allowlist"}, {c.Referrer, "referrer rules"}, {c.Rate, "rate limit"}, {c.Quota, "quota"},
		{c.Revoked, "revocation"}, {c.Expired, "expiry"},
	} {
		if r.n > 0 {
			calls := "calls"
			if r.n == 1 {
				calls = "call"
			}
			out = append(out, RefusalLine{Count: r.n, Text: fmt.Sprintf("%s %s refused by %s today", groupThousands(r.n), calls, r.what)})
		}
	}
	return out
}

// groupThousands writes n with thousands separators.
func groupThousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// KeyConfirm is the revoke or delete confirmation.
type KeyConfirm struct {
	Key model.APIKey
	// Action is "revoke" or "delete".
	Action string
	// From is "details" when asked from the details page, which the answer
	// then returns to; otherwise the list.
	From   string
	Dialog bool
	CSRF   string
	Now    time.Time
}

// PostURL is where the confirmation form posts.
func (c KeyConfirm) PostURL() string { return KeyURL(c.Key.PublicID) + "/" + c.Action }

// KeyURL is the details page of a key.
func KeyURL(publicID string) string { return "/settings/api-keys/" + url.PathEscape(publicID) }

// KeyRowID is the id of a key's table row, which htmx swaps in place.
func KeyRowID(publicID string) string { return "key-" + publicID }

// scopeTitle lists a key's scopes for the hover text of its summary.
func scopeTitle(k model.APIKey) string {
	switch k.PermissionSet {
	case model.PermReadAll:
		return "Read access to every resource, including ones added later"
	case model.PermWriteAll:
		return "Read and write access to every resource, including ones added later"
	}
	return strings.Join(k.Permission().ScopeStrings(), ", ")
}

// ScopeLine is one resource of a restricted key with its access.
type ScopeLine struct {
	Resource model.Resource
	Access   model.Access
	// Unlisted is true for a resource no longer in the catalog.
	Unlisted bool
}

// scopeLines lists a restricted key's grants in catalog order.
func scopeLines(k model.APIKey, catalog []model.Resource) []ScopeLine {
	p := k.Permission()
	var out []ScopeLine
	seen := map[string]bool{}
	for _, r := range catalog {
		seen[r.Name] = true
		if a := p.Scopes[r.Name]; a == model.AccessRead || a == model.AccessWrite {
			out = append(out, ScopeLine{Resource: r, Access: a})
		}
	}
	var rest []string
	for name, a := range p.Scopes {
		if !seen[name] && (a == model.AccessRead || a == model.AccessWrite) {
			rest = append(rest, name)
		}
	}
	slices.Sort(rest)
	for _, name := range rest {
		out = append(out, ScopeLine{Resource: model.Resource{Name: name, Label: name}, Access: p.Scopes[name], Unlisted: true})
	}
	return out
}

// accessLabel is an access level for people.
func accessLabel(a model.Access) string {
	switch a {
	case model.AccessWrite:
		return "Read & write"
	case model.AccessRead:
		return "Read"
	}
	return "None"
}

// envDescription says what an environment is for.
func envDescription(env string) string {
	if env == model.EnvTest {
		return "Test: for development and CI"
	}
	return "Live: production traffic"
}

// keyEventTitle names an audit action on a key.
func keyEventTitle(action string) string {
	switch action {
	case model.ActionKeyCreated:
		return "Created"
	case model.ActionKeyUpdated:
		return "Edited"
	case model.ActionKeyRevoked:
		return "Revoked"
	case model.ActionKeyDeleted:
		return "Deleted"
	case model.ActionKeyRolled:
		return "Rolled"
	case model.ActionKeyLeaked:
		return "Found in public"
	case model.ActionKeyLeakAcked:
		return "Leak acknowledged"
	}
	return action
}

// keyEventChanges describes what an api_key.updated event changed, in the
// words of the screen: "Name: “a” → “b”", "Permissions: Read All → Restricted".
func keyEventChanges(ev model.AuditEvent) []string {
	var out []string
	if m, ok := ev.Detail["name"].(map[string]any); ok {
		out = append(out, "Name: “"+str(m["from"])+"” → “"+str(m["to"])+"”")
	}
	if m, ok := ev.Detail["permission"].(map[string]any); ok {
		from := model.PermissionSet(str(m["from"])).Label()
		to := model.PermissionSet(str(m["to"])).Label()
		line := "Permissions: " + from + " → " + to
		if model.PermissionSet(str(m["to"])) == model.PermRestricted {
			if sc, ok := m["scopes"].([]any); ok && len(sc) > 0 {
				parts := make([]string, len(sc))
				for i, s := range sc {
					parts[i] = str(s)
				}
				line += " (" + strings.Join(parts, ", ") + ")"
			}
		}
		out = append(out, line)
	}
	if m, ok := ev.Detail["expires_at"].(map[string]any); ok {
		out = append(out, "Expiry: "+expiryText(m["from"])+" → "+expiryText(m["to"]))
	}
	if m, ok := ev.Detail["restrictions"].(map[string]any); ok {
		out = append(out, "Restrictions: "+restrictionText(m["from"])+" → "+restrictionText(m["to"]))
	}
	return out
}

// restrictionText describes restrictions as an audit event's detail holds
// them (decoded JSON).
func restrictionText(v any) string {
	var r model.Restrictions
	b, err := json.Marshal(v)
	if err == nil {
		err = json.Unmarshal(b, &r)
	}
	if err != nil {
		return "?"
	}
	if d := r.Describe(); d != "" {
		return strings.TrimSuffix(d, ".")
	}
	return "none"
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

func expiryText(v any) string {
	s, ok := v.(string)
	if !ok || s == "" {
		return "never"
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return s
	}
	return ExactUTC(t)
}

// shortActor shortens an actor label for a table cell: the part of an
// e-mail before the @, and at most 24 characters. The whole label is on hover.
func shortActor(label string) string {
	if at := strings.IndexByte(label, '@'); at > 0 && !strings.ContainsAny(label, " (") {
		label = label[:at]
	}
	r := []rune(label)
	if len(r) <= 24 {
		return label
	}
	return string(r[:23]) + "…"
}

// anyRoutes reports whether any resource has gateway routes.
func anyRoutes(rs []model.Resource) bool {
	for _, r := range rs {
		if len(r.Routes) > 0 {
			return true
		}
	}
	return false
}
