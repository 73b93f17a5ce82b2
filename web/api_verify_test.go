package web

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"reflect"
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

// TestVerifyAnswerIsEncodingJSON holds the verdict, written by hand for
// speed, to what encoding/json writes for apiVerifyJSON (as c.JSON has
// it, with its closing line feed): refusals, a valid key with and without
// scopes, a rate limit with and without a retry, quotas with and without
// a refill, and strings to escape.
func TestVerifyAnswerIsEncodingJSON(t *testing.T) {
	next := time.Date(2031, 5, 4, 0, 0, 0, 123456789, time.UTC)
	for _, out := range []apiVerifyJSON{
		{Code: "INVALID"},
		{Code: "RATE_LIMITED", RateLimit: &rateStateJSON{Limit: 10, Period: "1m", ResetSeconds: 6, RetryAfterSeconds: 6}},
		{Valid: true, KeyID: "key_01", TeamID: 7, Environment: "live", Scopes: []string{"api_keys:read", "members:write"}},
		{Valid: true, KeyID: "key_<&>\"é", TeamID: 1, Environment: "test", Scopes: []string{}},
		{Valid: true, KeyID: "key_02", TeamID: 3, Environment: "live",
			RateLimit: &rateStateJSON{Limit: 100, Period: "1s", Remaining: 99, ResetSeconds: 1},
			Quota:     &quotaJSON{Remaining: 41, RefillAmount: 50, RefillPeriod: "day", NextRefillAt: &next}},
		{Code: "QUOTA_EXCEEDED", Quota: &quotaJSON{}},
	} {
		want, err := json.Marshal(out)
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, '\n')
		if got := appendVerify(nil, &out); !bytes.Equal(got, want) {
			t.Errorf("appendVerify:\n got %s\nwant %s", got, want)
		}
	}
}

// decodeJSON takes its quick path only for what its strict path accepts,
// and decodes it the same: each body is decoded both ways, and where the
// quick path takes it, the strict one must too, with the same value. The
// plain bodies (the first five) must take the quick path.
func FuzzDecodeQuick(f *testing.F) {
	for _, in := range decodeBodies {
		f.Add(in)
	}
	f.Fuzz(func(t *testing.T, in string) {
		checkDecodeQuick(t, in, false)
	})
}

func TestDecodeQuickAgreesWithStrict(t *testing.T) {
	for i, in := range decodeBodies {
		checkDecodeQuick(t, in, i < 5)
	}
}

var decodeBodies = []string{
	`{"key":"k","scope":"api_keys:read"}`,
	` { "key" : "k" , "list" : [ "a" , "b" ] } `,
	`{"nested":{"a":1,"b":"x"},"items":[{"a":2}]}`,
	`{}`, `{"key":"a\"b\\c\u00e9"}`, `{"key":null}`, `{"nested":null}`,
	`{"Key":"k"}`, `{"key":"a","key":"b"}`, `{"other":1}`, `{"k\u0065y":"k"}`,
	`{"nested":{"a":1,"A":2}}`, `{"nested":{"c":1}}`, `{"items":[{"c":1}]}`,
	`{"key":"k"} {}`, `{"key":"k"}x`, `[]`, `null`, `"key"`, `{"key":1}`, `{"key":"k",}`, `{"key" "k"}`,
	`{"key":"k"`, `{"nested":{"a":"one"}}`, `{"list":[1,{"x":[}]}`, ``, `{"key":"\u0000"}`,
}

type quickNested struct {
	A int    `json:"a"`
	B string `json:"b"`
}

type quickBody struct {
	Key    string        `json:"key"`
	Scope  string        `json:"scope"`
	List   []string      `json:"list"`
	Nested *quickNested  `json:"nested"`
	Items  []quickNested `json:"items"`
}

func checkDecodeQuick(t *testing.T, in string, plain bool) {
	var quick, strict quickBody
	ok := decodeQuick([]byte(in), &quick)
	err := decodeStrict([]byte(in), &strict)
	if ok && err != nil {
		t.Errorf("%s: the quick path took what the strict one refuses (%v)", in, err)
	}
	if ok && !reflect.DeepEqual(quick, strict) {
		t.Errorf("%s: quick %+v, strict %+v", in, quick, strict)
	}
	if plain && !ok {
		t.Errorf("%s: a plain body missed the quick path", in)
	}
}
