package web

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/model"
)

// TestAPIRevokeThroughDashboardIsRefusedAtOnce: a key cached by the API is
// refused by the very next call after the dashboard revokes it.
func TestAPIRevokeThroughDashboardIsRefusedAtOnce(t *testing.T) {
	app := newAPIApp(t)
	k, raw := app.key(t, app.team.ID, model.PermReadAll)
	app.call(t, http.MethodGet, "/v1/whoami", bearer(raw), nil).wantStatus(t, http.StatusOK)

	cl := app.client(t)
	cl.login(t, "owner@example.com", testPassword)
	res := cl.postForm(t, "/settings/api-keys/"+k.PublicID+"/revoke", nil)
	if res.StatusCode >= 400 {
		t.Fatalf("dashboard revoke: %d %s", res.StatusCode, res.Body)
	}
	if got, _ := app.store.FindKeyByID(context.Background(), app.team.ID, k.PublicID); got.RevokedAt == nil {
		t.Fatal("the dashboard did not revoke the key")
	}
	app.call(t, http.MethodGet, "/v1/whoami", bearer(raw), nil).wantError(t, http.StatusUnauthorized, "invalid_api_key")
}

// TestAPITwoInstances: two servers on one PostgreSQL database; a key
// revoked through A is refused by B within a second (LISTEN/NOTIFY).
func TestAPITwoInstances(t *testing.T) {
	a := newAPIApp(t, withListener())
	b := newAPIApp(t, onDatabase(a.dsn, a.clock), withListener())
	k, raw := a.key(t, a.team.ID, model.PermReadAll)
	_, admin := a.key(t, a.team.ID, model.PermWriteAll)
	b.call(t, http.MethodGet, "/v1/whoami", bearer(raw), nil).wantStatus(t, http.StatusOK) // cached on B

	a.call(t, http.MethodPost, "/v1/api-keys/"+k.PublicID+"/revoke", bearer(admin), nil).wantStatus(t, http.StatusOK)
	start := time.Now()
	for b.call(t, http.MethodGet, "/v1/whoami", bearer(raw), nil).StatusCode != http.StatusUnauthorized {
		if time.Since(start) > time.Second {
			t.Fatal("instance B still accepts the key a second after A revoked it")
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Logf("revoked on A, refused on B after %s", time.Since(start))

	// An edit on B reaches A's cache too.
	k2, raw2 := a.key(t, a.team.ID, model.PermReadAll)
	a.call(t, http.MethodGet, "/v1/api-keys", bearer(raw2), nil).wantStatus(t, http.StatusOK)
	b.call(t, http.MethodPatch, "/v1/api-keys/"+k2.PublicID, bearer(admin), `{"scopes":["members:read"]}`).wantStatus(t, http.StatusOK)
	start = time.Now()
	for a.call(t, http.MethodGet, "/v1/api-keys", bearer(raw2), nil).StatusCode != http.StatusForbidden {
		if time.Since(start) > time.Second {
			t.Fatal("instance A still uses the old permission a second after B narrowed it")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestAPILastUsed: 1,000 requests over several keys are one UPDATE at the
// flush, and the dashboard then shows when and from where.
func TestAPILastUsed(t *testing.T) {
	app := newAPIApp(t)
	var ks []model.APIKey
	var raws []string
	for range 4 {
		k, raw := app.key(t, app.team.ID, model.PermReadAll)
		ks, raws = append(ks, k), append(raws, raw)
	}
	revokedKey, revoked := app.key(t, app.team.ID, model.PermReadAll)
	if _, err := app.store.RevokeKey(context.Background(), app.team.ID, revokedKey.PublicID, model.Actor{Label: "test"}); err != nil {
		t.Fatal(err)
	}
	app.proxy.Reset()
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := range 125 {
				res := app.call(t, http.MethodGet, "/v1/whoami", bearer(raws[(w+i)%len(raws)]), nil)
				if res.StatusCode != http.StatusOK {
					t.Errorf("request %d: %d", i, res.StatusCode)
					return
				}
			}
		})
	}
	wg.Wait()
	app.call(t, http.MethodGet, "/v1/whoami", bearer(revoked), nil).wantStatus(t, http.StatusUnauthorized)
	if n := app.proxy.Count("UPDATE"); n != 0 {
		t.Fatalf("requests ran %d UPDATE statements before the flush", n)
	}
	if err := app.srv.recorder.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := app.proxy.Count("UPDATE"); n != 1 {
		t.Fatalf("1,000 requests over %d keys flushed with %d UPDATE statements, want 1", len(ks), n)
	}
	var total int64
	day := app.clock.Now().Truncate(24 * time.Hour)
	for _, k := range ks {
		got, err := app.store.FindKeyByID(context.Background(), app.team.ID, k.PublicID)
		if err != nil || got.LastUsedAt == nil || !got.LastUsedAt.Equal(app.clock.Now()) || got.LastUsedIP != "127.0.0.1" {
			t.Fatalf("key %s after the flush: last used %v from %q (%v)", k.PublicID, got.LastUsedAt, got.LastUsedIP, err)
		}
		days, _ := app.store.FindKeyUsage(context.Background(), k.ID, day, day)
		if len(days) == 1 {
			total += days[0].Requests
		}
	}
	if total != 1000 {
		t.Fatalf("usage counts %d requests, want 1000", total)
	}
	if days, _ := app.store.FindKeyUsage(context.Background(), revokedKey.ID, day, day); len(days) != 1 || days[0].Refused != 1 || days[0].Requests != 0 {
		t.Fatalf("the refused revoked key's usage: %+v", days)
	}

	// The dashboard shows the last use.
	cl := app.client(t)
	cl.login(t, "owner@example.com", testPassword)
	page := cl.get(t, "/settings/api-keys/"+ks[0].PublicID)
	page.wantStatus(t, http.StatusOK)
	if !strings.Contains(page.Body, "127.0.0.1") || !strings.Contains(page.Body, app.clock.Now().Format("2006-01-02T15:04:05")) {
		t.Fatal("the key's page does not show the last use")
	}
	// And the API.
	var j apiKeyJSON
	app.call(t, http.MethodGet, "/v1/api-keys/"+ks[0].PublicID, bearer(raws[0]), nil).decode(t, &j)
	if j.LastUsedAt == nil || j.LastUsedIP == nil || *j.LastUsedIP != "127.0.0.1" {
		t.Fatalf("API last use %v %v", j.LastUsedAt, j.LastUsedIP)
	}
}

// TestAPICloseFlushes: shutting the server down writes the uses recorded
// since the last flush.
func TestAPICloseFlushes(t *testing.T) {
	app := newAPIApp(t)
	k, raw := app.key(t, app.team.ID, model.PermReadAll)
	app.call(t, http.MethodGet, "/v1/whoami", xAPIKey(raw), nil).wantStatus(t, http.StatusOK)
	if got, _ := app.store.FindKeyByID(context.Background(), app.team.ID, k.PublicID); got.LastUsedAt != nil {
		t.Fatal("the use was written before any flush")
	}
	if err := app.srv.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got, _ := app.store.FindKeyByID(context.Background(), app.team.ID, k.PublicID); got.LastUsedAt == nil {
		t.Fatal("Close did not flush the last use")
	}
}
