package web

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/keyward/keyward/internal/model"
	"github.com/keyward/keyward/internal/store"
	"github.com/keyward/keyward/views"
)

// maxKeyPage bounds the page number so the offset stays reasonable.
const maxKeyPage = 100_000

// parseKeyFilter reads the key table's state from the query string: q,
// status, env, sort and page. Unknown values fall back to the defaults; they
// never reach SQL (the store maps sort names to fixed orders).
func parseKeyFilter(q url.Values) views.KeyFilter {
	f := views.KeyFilter{Sort: model.KeySortCreated, Page: 1}
	// A name is at most 100 characters, so a longer search cannot match.
	f.Query = strings.ToValidUTF8(strings.TrimSpace(q.Get("q")), "")
	if r := []rune(f.Query); len(r) > model.MaxKeyNameLen {
		f.Query = string(r[:model.MaxKeyNameLen])
	}
	switch s := q.Get("status"); model.KeyStatus(s) {
	case model.StatusActive, model.StatusExpired, model.StatusRevoked:
		f.Status = s
	}
	switch e := q.Get("env"); e {
	case model.EnvLive, model.EnvTest:
		f.Environment = e
	}
	switch s := q.Get("sort"); s {
	case model.KeySortLastUsed, model.KeySortName:
		f.Sort = s
	}
	f.Hygiene = parseHygiene(q.Get("hygiene"))
	if p, err := strconv.Atoi(q.Get("page")); err == nil && p > 1 {
		f.Page = min(p, maxKeyPage)
	}
	return f
}

// handleKeyList serves GET /settings/api-keys: the key table with search,
// filters, sort and pages. Under htmx it answers the table region only (the
// toolbar, the pager and the keys-changed refresh swap it); otherwise, and
// when htmx restores history, the whole page.
func (s *Server) handleKeyList(c echo.Context) error {
	l, notices, err := s.keyList(c, parseKeyFilter(c.QueryParams()))
	if err != nil {
		return err
	}
	h := c.Response().Header()
	h.Add("Vary", "HX-Request")
	if isHTMX(c) && c.Request().Header.Get("HX-History-Restore-Request") != "true" {
		switch c.Request().Header.Get("HX-Trigger") {
		case "key-filters":
			// The toolbar form would push every empty field; push the
			// canonical address of the view instead.
			h.Set("HX-Push-Url", l.Filter.URL())
		case "key-table":
			// A refresh after a change: the first key brings the toolbar.
			l.WithToolbar = true
		}
		return render(c, http.StatusOK, views.KeyTable(l))
	}
	ch := s.chrome(c, "api-keys")
	if l.Leaks, err = s.leakNotices(c, ch.TeamName); err != nil {
		return err
	}
	if l.Reminders, err = s.keyReminders(c, notices); err != nil {
		return err
	}
	return render(c, http.StatusOK, views.KeyListPage(ch, l))
}

// keyReminders are the notices at the top of the key table: keys expiring
// within 7 days or expired in the last 7 (the reminders e-mail would carry,
// shown when the install sends no e-mail; n counts them) and disabled
// webhook endpoints.
func (s *Server) keyReminders(c echo.Context, n store.KeyNotices) ([]string, error) {
	ctx := c.Request().Context()
	var out []string
	if s.cfg.SMTPURL == "" {
		if n.Expiring > 0 {
			out = append(out, plural(n.Expiring, "key expires", "keys expire")+" within 7 days: roll "+pronoun(n.Expiring)+" or set a later expiry (filter Expiring soon).")
		}
		if n.Expired > 0 {
			out = append(out, plural(n.Expired, "key", "keys")+" expired in the last 7 days: calls using "+pronoun(n.Expired)+" are refused.")
		}
	}
	eps, err := s.store.FindEndpoints(ctx, teamID(c))
	if err != nil {
		return nil, err
	}
	for _, ep := range eps {
		if !ep.Enabled && ep.DisabledReason != "" {
			out = append(out, "The webhook endpoint "+ep.URL+" was disabled after failing for 5 days (Settings → Webhooks).")
		}
	}
	return out, nil
}

func plural(n int64, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.FormatInt(n, 10) + " " + many
}

// pronoun is what refers back to n keys: "it" or "them".
func pronoun(n int64) string {
	if n == 1 {
		return "it"
	}
	return "them"
}

// keyList loads one page of the team's keys for f, and the counts of the
// reminders. A page past the end shows the last page.
func (s *Server) keyList(c echo.Context, f views.KeyFilter) (views.KeyList, store.KeyNotices, error) {
	ctx := c.Request().Context()
	now := s.now().UTC()
	team, err := s.store.FindTeamByID(ctx, teamID(c))
	if err != nil {
		return views.KeyList{}, store.KeyNotices{}, err
	}
	// One pass over the team's keys counts them all, the hygiene panel and
	// the reminders; the table without filters needs no count of its own.
	counts, err := s.store.CountKeys(ctx, teamID(c), now, team.RotationDays)
	if err != nil {
		return views.KeyList{}, store.KeyNotices{}, err
	}
	mf := model.KeyFilter{
		TeamID:       teamID(c),
		Query:        f.Query,
		Status:       model.KeyStatus(f.Status),
		Environment:  f.Environment,
		Sort:         f.Sort,
		Now:          now,
		Offset:       (f.Page - 1) * views.KeysPerPage,
		Limit:        views.KeysPerPage,
		RotationDays: team.RotationDays,
	}
	mf = store.HygieneFilter(mf, f.Hygiene, now)
	find := func() ([]model.APIKey, int64, error) {
		if !f.Active() {
			rows, err := s.store.FindKeyRows(ctx, mf)
			return rows, counts.Total, err
		}
		return s.store.FindKeys(ctx, mf)
	}
	rows, total, err := find()
	if err != nil {
		return views.KeyList{}, store.KeyNotices{}, err
	}
	if len(rows) == 0 && total > 0 && f.Page > 1 {
		f.Page = int((total + views.KeysPerPage - 1) / views.KeysPerPage)
		mf.Offset = (f.Page - 1) * views.KeysPerPage
		if rows, total, err = find(); err != nil {
			return views.KeyList{}, store.KeyNotices{}, err
		}
	}
	l := views.KeyList{Rows: rows, Filter: f, Total: total, TeamHasKeys: counts.Total > 0, Now: now}
	h := counts.Hygiene
	l.Hygiene = views.Hygiene{NeverUsed: h.NeverUsed, Stale: h.Stale, NoExpiry: h.NoExpiry, Expiring: h.Expiring,
		RotationDue: h.RotationDue, RotationDays: team.RotationDays, Current: f.Hygiene}
	if l.Activity, err = s.keyActivities(ctx, teamID(c), rows, now, f.Hygiene != "", team.RotationDays); err != nil {
		return views.KeyList{}, store.KeyNotices{}, err
	}
	return l, counts.Notices, nil
}
