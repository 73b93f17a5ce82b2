package web

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/model"
)

// The dashboard's audit filters, sent to GET /v1/audit-log unchanged, give
// the same events in the same order.
func TestAPIAuditLogTakesTheDashboardFilters(t *testing.T) {
	fx := newKeysFixture(t)
	owner := model.UserActor(fx.owner, "192.0.2.1")
	fx.app.clock.Set(time.Date(2026, 3, 3, 23, 59, 0, 0, time.UTC))
	seedKeys(t, fx.app, fx.team.ID, "mar3", 2, owner)
	fx.app.clock.Set(time.Date(2026, 3, 4, 0, 0, 0, 0, time.UTC))
	seedKeys(t, fx.app, fx.team.ID, "mar4", 1, owner)
	fx.app.clock.Set(time.Date(2026, 3, 4, 10, 0, 0, 0, time.UTC))
	fx.cl = fx.app.client(t)
	fx.cl.login(t, "owner@example.com", testPassword)
	raw, _ := fx.create(t, keyForm("name", "Auditor", "permission", "read_all"))

	api := func(query string) (int, []string) {
		t.Helper()
		req := fx.cl.newRequest(t, http.MethodGet, "/v1/audit-log?"+query, nil)
		req.Header.Set("X-API-Key", raw)
		res := fx.cl.do(t, req)
		var body struct {
			Data []struct {
				Action     string `json:"action"`
				TargetName string `json:"target_name"`
			} `json:"data"`
		}
		if res.StatusCode == http.StatusOK {
			if err := json.Unmarshal([]byte(res.Body), &body); err != nil {
				t.Fatalf("%s: %v\n%s", query, err, res.Body)
			}
		}
		var out []string
		for _, e := range body.Data {
			out = append(out, e.Action+" "+e.TargetName)
		}
		return res.StatusCode, out
	}
	dashboard := func(query string) []string {
		t.Helper()
		var out []string
		for _, tr := range fx.cl.get(t, "/settings/audit-log?"+query).find(t, "table.audit tbody tr") {
			out = append(out, attr(tr, "data-action")+" "+textOf(queryAll(tr, "td.action span.sentence")[0])[len("created API key "):])
		}
		return out
	}
	for _, q := range []string{
		"from=2026-03-03&to=2026-03-03",
		"from=2026-03-04&action=api_key.created",
		"action=api_key.*&actor=owner&to=2026-03-03",
	} {
		status, got := api(q)
		want := dashboard(q)
		if status != http.StatusOK || len(got) == 0 || len(got) != len(want) {
			t.Fatalf("%s: API %d %q, dashboard %q", q, status, got, want)
		}
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("%s: API %q, dashboard %q", q, got, want)
			}
		}
	}
	for _, bad := range []string{"from=yesterday", "to=2026-13-01", "since=2026-03-01&from=2026-03-01", "until=2026-03-05&to=2026-03-04"} {
		if status, _ := api(bad); status != http.StatusUnprocessableEntity {
			t.Errorf("%s: status %d, want 422", bad, status)
		}
	}
}
