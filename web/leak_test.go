package web

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/config"
	"github.com/keyward/keyward/internal/keys"
	"github.com/keyward/keyward/internal/model"
	"github.com/keyward/keyward/internal/store"
)

// scanSigner is a secret scanner's signing key, made in the test, and the
// public keys file that lists it.
type scanSigner struct {
	id   string
	priv *ecdsa.PrivateKey
}

func newScanSigner(t testing.TB, id string) scanSigner {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return scanSigner{id: id, priv: priv}
}

// sign is base64(ASN.1 DER ECDSA signature of SHA-256(body)).
func (s scanSigner) sign(t testing.TB, body []byte) string {
	t.Helper()
	d := sha256.Sum256(body)
	sig, err := ecdsa.SignASN1(rand.Reader, s.priv, d[:])
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(sig)
}

// writeScanKeys writes GitHub's public_keys file listing signers.
func writeScanKeys(t testing.TB, path string, signers ...scanSigner) {
	t.Helper()
	type entry struct {
		ID      string `json:"key_identifier"`
		Key     string `json:"key"`
		Current bool   `json:"is_current"`
	}
	var f struct {
		PublicKeys []entry `json:"public_keys"`
	}
	for i, s := range signers {
		der, err := x509.MarshalPKIXPublicKey(&s.priv.PublicKey)
		if err != nil {
			t.Fatal(err)
		}
		p := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
		f.PublicKeys = append(f.PublicKeys, entry{ID: s.id, Key: string(p), Current: i == 0})
	}
	b, _ := json.Marshal(f)
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// withScanKeys configures KEYWARD_SECRET_SCANNING_KEYS with signers.
func withScanKeys(t testing.TB, signers ...scanSigner) apiAppOption {
	path := filepath.Join(t.TempDir(), "secret-scanning-keys.json")
	writeScanKeys(t, path, signers...)
	return withAPIConfig(func(c *config.Config) { c.SecretScanningKeys = path })
}

// scanMatchJSON is one match of GitHub's payload.
type scanMatchJSON struct {
	Token  string `json:"token"`
	Type   string `json:"type"`
	URL    string `json:"url"`
	Source string `json:"source"`
}

// scan posts body to the secret-scanning endpoint with the given signature headers.
func (a *apiApp) scan(t testing.TB, body []byte, keyID, sig string) *apiResponse {
	t.Helper()
	h := http.Header{}
	if keyID != "" {
		h.Set("GITHUB-PUBLIC-KEY-IDENTIFIER", keyID)
	}
	if sig != "" {
		h.Set("GITHUB-PUBLIC-KEY-SIGNATURE", sig)
	}
	return a.call(t, http.MethodPost, "/v1/secret-scanning/github", h, string(body))
}

func tokenHash(tok string) string {
	s := sha256.Sum256([]byte(tok))
	return hex.EncodeToString(s[:])
}

// nearMiss is raw with its check changed: the same shape, a wrong checksum.
func nearMiss(raw string) string {
	last := raw[len(raw)-1]
	repl := byte('A')
	if last == 'A' {
		repl = 'B'
	}
	return raw[:len(raw)-1] + string(repl)
}

// TestSecretScanningSignature: only a payload signed by a listed key over
// the exact body is acted on; every other is 401 and changes nothing.
func TestSecretScanningSignature(t *testing.T) {
	github := newScanSigner(t, "90a421169f0a406205f1563a953312f0be898d3c7b6c06b681aa86a874555f4a")
	other := newScanSigner(t, "bcb53661c06b4728e59d897fb6165d5c9cda0fd9cdf9d09ead458168deb7518c")
	app := newAPIApp(t, withScanKeys(t, github))
	k, raw := app.key(t, app.team.ID, model.PermReadAll)
	body, _ := json.Marshal([]scanMatchJSON{{Token: raw, Type: "keyward_api_key", URL: "https://github.com/octo/repo/blob/abc/.env", Source: "content"}})
	altered := []byte(strings.Replace(string(body), "octo", "octp", 1))

	before := takeSnapshot(t, app.dsn)
	for _, tc := range []struct {
		name, keyID, sig string
		body             []byte
	}{
		{"wrong key identifier", other.id, github.sign(t, body), body},
		{"signature from another key", github.id, other.sign(t, body), body},
		{"body altered by one byte", github.id, github.sign(t, body), altered},
		{"no headers", "", "", body},
		{"no signature", github.id, "", body},
		{"no identifier", "", github.sign(t, body), body},
		{"signature not base64", github.id, "%%%", body},
		{"signature of an empty body", github.id, github.sign(t, nil), body},
	} {
		res := app.scan(t, tc.body, tc.keyID, tc.sig)
		e := res.wantError(t, http.StatusUnauthorized, "invalid_signature")
		if strings.Contains(string(res.Body), raw) || strings.Contains(e.Error.Message, "unknown") {
			t.Fatalf("%s: the refusal reveals more than that the signature does not verify: %s", tc.name, res.Body)
		}
	}
	if d := before.diff(takeSnapshot(t, app.dsn)); d != "" {
		t.Fatalf("refused payloads changed the database:\n%s", d)
	}

	res := app.scan(t, body, github.id, github.sign(t, body))
	res.wantStatus(t, http.StatusOK)
	var fb []scanFeedback
	res.decode(t, &fb)
	if len(fb) != 1 || fb[0] != (scanFeedback{TokenHash: tokenHash(raw), TokenType: "keyward_api_key", Label: "true_positive"}) {
		t.Fatalf("feedback = %+v", fb)
	}
	if got, _ := app.store.FindKeyByID(context.Background(), app.team.ID, k.PublicID); got.RevokedAt == nil {
		t.Fatal("a verified report of a key did not revoke it")
	}

	// Without KEYWARD_SECRET_SCANNING_KEYS every payload is refused.
	bare := newAPIApp(t)
	bare.scan(t, body, github.id, github.sign(t, body)).wantError(t, http.StatusUnauthorized, "invalid_signature")
}

// scanPayload builds n matches: keyward keys of two teams (each also at a
// second URL, and once more at the same URL), other vendors' tokens,
// keyward-shaped strings with a wrong checksum, and garbage. want is the
// label each token must get.
func scanPayload(t testing.TB, a *apiApp, teamA, teamB int64, n int) ([]scanMatchJSON, map[string]string, []model.APIKey) {
	t.Helper()
	want := map[string]string{}
	var matches []scanMatchJSON
	var created []model.APIKey
	add := func(tok, label, url string) {
		matches = append(matches, scanMatchJSON{Token: tok, Type: "keyward_api_key", URL: url, Source: "commit"})
		want[tok] = label
	}
	for i := 0; len(matches) < n; i++ {
		url := fmt.Sprintf("https://github.com/octo/repo%d/blob/0123abc/config.env", i)
		switch i % 5 {
		case 0, 1:
			team := teamA
			if i%5 == 1 {
				team = teamB
			}
			k, raw := a.key(t, team, model.PermReadAll)
			created = append(created, k)
			add(raw, "true_positive", url)
			if len(matches) < n && i%3 == 0 {
				add(raw, "true_positive", url+"#again") // a second URL
			}
			if len(matches) < n && i%7 == 0 {
				add(raw, "true_positive", url) // the same URL again
			}
		case 2:
			add(fmt.Sprintf("ghp_%036d", i), "false_positive", url)
		case 3:
			raw, _ := keys.Generate("kw", "live")
			add(nearMiss(raw), "false_positive", url)
		case 4:
			// (A NUL is refused before any handler, like in every input: 400.)
			add(fmt.Sprintf("garbage \t %d %s", i, strings.Repeat("é", i%40)), "false_positive", url)
		}
	}
	return matches, want, created
}

// TestSecretScanningPayloads: payloads of 1, 100 and 1,000 matches mixing
// keyward keys of two teams, other vendors' tokens, near misses and
// garbage get exact labels in order; every keyward key is revoked, with
// api_key.leaked in its team's audit log, recorded once per distinct URL.
func TestSecretScanningPayloads(t *testing.T) {
	signer := newScanSigner(t, "k1")
	app := newAPIApp(t, withScanKeys(t, signer))
	teamB := app.createTeam(t, "Globex")
	ctx := context.Background()
	for _, n := range []int{1, 100, 1000} {
		matches, want, created := scanPayload(t, app, app.team.ID, teamB.ID, n)
		body, _ := json.Marshal(matches)
		start := time.Now()
		res := app.scan(t, body, signer.id, signer.sign(t, body))
		if res.StatusCode != 200 {
			t.Log(app.logs.String())
		}
		res.wantStatus(t, http.StatusOK)
		t.Logf("%d matches (%d keyward keys) answered in %s", n, len(created), time.Since(start))
		var fb []scanFeedback
		res.decode(t, &fb)
		if len(fb) != len(matches) {
			t.Fatalf("%d matches, %d feedback entries", len(matches), len(fb))
		}
		for i, m := range matches {
			if fb[i].TokenHash != tokenHash(m.Token) || fb[i].TokenType != "keyward_api_key" || fb[i].Label != want[m.Token] {
				t.Fatalf("match %d (%q): feedback %+v, want label %s", i, clip(m.Token, 20), fb[i], want[m.Token])
			}
		}
		urls := map[string]map[string]bool{}
		for _, m := range matches {
			if want[m.Token] == "true_positive" {
				h := keys.Hash(m.Token)
				if urls[h] == nil {
					urls[h] = map[string]bool{}
				}
				urls[h][m.URL] = true
			}
		}
		for _, k := range created {
			got, err := app.store.FindKeyByID(ctx, k.TeamID, k.PublicID)
			if err != nil || got.RevokedAt == nil || got.RevokedBy != scannerLabel {
				t.Fatalf("key %s of team %d not revoked by the scan: %+v, %v", k.PublicID, k.TeamID, got, err)
			}
			leaks, err := app.store.FindKeyLeaks(ctx, k.TeamID, k.ID)
			if err != nil || len(leaks) != len(urls[k.KeyHash]) {
				t.Fatalf("key %s: %d leaks recorded, want one per distinct URL (%d): %v", k.PublicID, len(leaks), len(urls[k.KeyHash]), err)
			}
			events, err := app.store.FindAuditEvents(ctx, store.AuditFilter{TeamID: k.TeamID, TargetID: k.PublicID, Actions: []string{model.ActionKeyLeaked}, Limit: 10})
			if err != nil || len(events) != len(leaks) {
				t.Fatalf("key %s: %d api_key.leaked events, want %d: %v", k.PublicID, len(events), len(leaks), err)
			}
			if u, _ := events[0].Detail["url"].(string); !urls[k.KeyHash][u] || events[0].Detail["source"] != "commit" {
				t.Fatalf("api_key.leaked detail %v", events[0].Detail)
			}
		}
		// The same payload again records nothing new and still answers the labels.
		if n == 100 {
			before := takeSnapshot(t, app.dsn)
			app.scan(t, body, signer.id, signer.sign(t, body)).wantStatus(t, http.StatusOK)
			if d := before.diff(takeSnapshot(t, app.dsn)); d != "" {
				t.Fatalf("the same report twice changed the database:\n%s", d)
			}
		}
	}
}

// TestSecretScanningRefusals: malformed and oversized payloads are refused
// after the signature is checked, and change nothing.
func TestSecretScanningRefusals(t *testing.T) {
	signer := newScanSigner(t, "k1")
	app := newAPIApp(t, withScanKeys(t, signer))
	before := takeSnapshot(t, app.dsn)
	for _, tc := range []struct {
		body   string
		status int
	}{
		{`{"token":"x"}`, http.StatusBadRequest},
		{`[{"token":"x"}] []`, http.StatusBadRequest},
		{`[` + strings.Repeat(`{"token":"x","type":"t","url":"","source":"content"},`, 1000) + `{"token":"x"}]`, http.StatusUnprocessableEntity},
		{`["` + strings.Repeat("a", maxScanBody) + `"]`, http.StatusRequestEntityTooLarge},
	} {
		b := []byte(tc.body)
		res := app.scan(t, b, signer.id, signer.sign(t, b))
		res.wantStatus(t, tc.status)
	}
	if d := before.diff(takeSnapshot(t, app.dsn)); d != "" {
		t.Fatalf("refused payloads changed the database:\n%s", d)
	}
}

// TestSecretScanningReachesEveryInstance: a key cached on instance B is
// refused there within a second of A revoking it on a scanner's report.
func TestSecretScanningReachesEveryInstance(t *testing.T) {
	signer := newScanSigner(t, "k1")
	a := newAPIApp(t, withListener(), withScanKeys(t, signer))
	b := newAPIApp(t, onDatabase(a.dsn, a.clock), withListener())
	_, raw := a.key(t, a.team.ID, model.PermReadAll)
	b.call(t, http.MethodGet, "/v1/whoami", bearer(raw), nil).wantStatus(t, http.StatusOK) // cached on B
	body, _ := json.Marshal([]scanMatchJSON{{Token: raw, Type: "keyward_api_key", URL: "https://gist.github.com/x/1", Source: "gist_content"}})
	a.scan(t, body, signer.id, signer.sign(t, body)).wantStatus(t, http.StatusOK)
	start := time.Now()
	for b.call(t, http.MethodGet, "/v1/whoami", bearer(raw), nil).StatusCode != http.StatusUnauthorized {
		if time.Since(start) > time.Second {
			t.Fatal("instance B still accepts the key a second after A revoked it on a leak report")
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Logf("leaked on A, refused on B after %s", time.Since(start))
}

// TestSecretScanningNotifyOnly: with leak_action notify the key keeps
// working; the leak is recorded, audited and shown, and nothing else changes.
func TestSecretScanningNotifyOnly(t *testing.T) {
	signer := newScanSigner(t, "k1")
	app := newAPIApp(t, withScanKeys(t, signer))
	ctx := context.Background()
	if _, err := app.store.UpdateTeamSettings(ctx, app.team.ID, model.TeamSettings{LeakAction: model.LeakNotify}, model.UserActor(app.owner, "")); err != nil {
		t.Fatal(err)
	}
	k, raw := app.key(t, app.team.ID, model.PermReadAll)
	before := takeSnapshot(t, app.dsn)
	body, _ := json.Marshal([]scanMatchJSON{{Token: raw, Type: "keyward_api_key", URL: "https://github.com/o/r/blob/1/a.env", Source: "content"}})
	res := app.scan(t, body, signer.id, signer.sign(t, body))
	res.wantStatus(t, http.StatusOK)
	var fb []scanFeedback
	res.decode(t, &fb)
	if fb[0].Label != "true_positive" {
		t.Fatalf("feedback %+v", fb)
	}
	after := takeSnapshot(t, app.dsn)
	if fmt.Sprint(before["api_keys"]) != fmt.Sprint(after["api_keys"]) {
		t.Fatal("leak_action notify changed the key")
	}
	if len(after["key_leaks"]) != 1 || !strings.Contains(after["key_leaks"][0], `"action": "notified"`) {
		t.Fatalf("leak rows %v", after["key_leaks"])
	}
	if len(after["audit_events"]) != len(before["audit_events"])+1 || !strings.Contains(strings.Join(after["audit_events"], "\n"), model.ActionKeyLeaked) {
		t.Fatalf("audit events: want exactly one more (api_key.leaked): %v", after["audit_events"])
	}
	// Notify only still tells: api_key.leaked goes to the outbox (webhooks
	// and the e-mail follow from it), and no api_key.revoked with it.
	events := strings.Join(after["events"], "\n")
	if len(after["events"]) != len(before["events"])+1 || !strings.Contains(events, model.EventKeyLeaked) || strings.Contains(events, model.EventKeyRevoked) {
		t.Fatalf("events: want exactly one more (api_key.leaked): %v", after["events"])
	}
	app.call(t, http.MethodGet, "/v1/whoami", bearer(raw), nil).wantStatus(t, http.StatusOK)

	cl := app.client(t)
	cl.login(t, "owner@example.com", testPassword)
	page := cl.get(t, "/settings/api-keys/"+k.PublicID)
	page.wantStatus(t, http.StatusOK)
	if txt := page.text(t, ".leak-banner"); !strings.Contains(txt, "Found in public at https://github.com/o/r/blob/1/a.env on") || !strings.Contains(txt, "not revoked") {
		t.Fatalf("banner %q", txt)
	}
}

// TestSecretScanningNearMissIsFalsePositive: a string of the key's shape
// whose checksum is wrong (the detection rule's regex matches it, since a
// regex cannot check a CRC) is labelled false_positive, costs no database
// statement, and changes nothing.
func TestSecretScanningNearMissIsFalsePositive(t *testing.T) {
	signer := newScanSigner(t, "k1")
	app := newAPIApp(t, withScanKeys(t, signer))
	_, raw := app.key(t, app.team.ID, model.PermReadAll)
	miss := nearMiss(raw)
	if _, err := keys.Parse(miss); err == nil {
		t.Fatal("the near miss parses")
	}
	body, _ := json.Marshal([]scanMatchJSON{{Token: miss, Type: "keyward_api_key", URL: "https://github.com/o/r", Source: "content"}})
	before := takeSnapshot(t, app.dsn)
	app.proxy.Reset()
	res := app.scan(t, body, signer.id, signer.sign(t, body))
	res.wantStatus(t, http.StatusOK)
	var fb []scanFeedback
	res.decode(t, &fb)
	if len(fb) != 1 || fb[0].Label != "false_positive" || fb[0].TokenHash != tokenHash(miss) {
		t.Fatalf("feedback %+v", fb)
	}
	if n := len(app.proxy.Statements()); n != 0 {
		t.Fatalf("a wrong checksum cost %d database statements, want 0", n)
	}
	if d := before.diff(takeSnapshot(t, app.dsn)); d != "" {
		t.Fatalf("a near miss changed the database:\n%s", d)
	}
}

// TestSecretScanningBadSignaturesAreLimited: an address that keeps sending
// payloads that do not verify gets 429 with Retry-After, like failed key
// checks on the API.
func TestSecretScanningBadSignaturesAreLimited(t *testing.T) {
	signer := newScanSigner(t, "k1")
	app := newAPIApp(t, withScanKeys(t, signer))
	body := []byte(`[]`)
	for i := 0; ; i++ {
		res := app.scan(t, body, signer.id, base64.StdEncoding.EncodeToString([]byte("not a signature")))
		if res.StatusCode == http.StatusTooManyRequests {
			if res.Header.Get("Retry-After") == "" || i < keyFailBurst {
				t.Fatalf("429 after %d failures, Retry-After %q", i, res.Header.Get("Retry-After"))
			}
			break
		}
		res.wantError(t, http.StatusUnauthorized, "invalid_signature")
		if i > keyFailBurst+5 {
			t.Fatalf("still 401 after %d bad signatures", i)
		}
	}
}
