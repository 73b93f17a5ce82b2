package web

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/auth"
	"github.com/keyward/keyward/internal/model"
)

// enrolTwoFactor turns two-factor on for cl's user through the pages and
// returns the seed and the recovery codes.
func enrolTwoFactor(t *testing.T, app *testApp, cl *testClient) (string, []string) {
	t.Helper()
	page := cl.get(t, "/account/two-factor")
	page.wantStatus(t, http.StatusOK)
	if !page.has(t, `form[action="/account/two-factor/start"]`) {
		t.Fatalf("no way to start:\n%s", page.Body)
	}
	cl.postForm(t, "/account/two-factor/start", nil).wantRedirect(t, "/account/two-factor")
	page = cl.get(t, "/account/two-factor")
	if !page.has(t, "figure.qr svg path") {
		t.Fatalf("no QR code:\n%s", page.Body)
	}
	secret := strings.ReplaceAll(page.text(t, "code.totp-secret"), " ", "")
	if len(secret) < 32 {
		t.Fatalf("manual key %q", secret)
	}
	res := cl.postForm(t, "/account/two-factor/confirm", url.Values{"code": {"000000"}})
	res.wantStatus(t, http.StatusUnprocessableEntity)
	code, err := auth.TOTPCode(secret, app.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	res = cl.postForm(t, "/account/two-factor/confirm", url.Values{"code": {code}})
	res.wantStatus(t, http.StatusOK)
	if res.Header.Get("Cache-Control") != "no-store" {
		t.Error("the recovery codes are cacheable")
	}
	var codes []string
	for _, n := range res.findIn(nil, "#recovery-codes code") {
		codes = append(codes, textOf(n))
	}
	if len(codes) != auth.RecoveryCodeCount {
		t.Fatalf("%d recovery codes shown", len(codes))
	}
	return secret, codes
}

// passwordStep posts the password and expects the second step.
func passwordStep(t *testing.T, cl *testClient, email string) {
	t.Helper()
	cl.postForm(t, "/login", url.Values{"email": {email}, "password": {testPassword}}).wantRedirect(t, "/login/two-factor")
	if !cl.get(t, "/login/two-factor").has(t, `form[action="/login/two-factor"] input#code`) {
		t.Fatal("no code form after the password")
	}
	cl.get(t, "/settings/api-keys").wantRedirect(t, "/login?next=%2Fsettings%2Fapi-keys")
}

func TestTwoFactorEnrolAndSignIn(t *testing.T) {
	app := newTestApp(t, withConfig(withEncryptionKey))
	app.setup(t, "owner@example.com", testPassword, "Acme")
	cl := app.client(t)
	cl.login(t, "owner@example.com", testPassword)
	secret, codes := enrolTwoFactor(t, app, cl)
	if !strings.Contains(cl.get(t, "/settings/members").text(t, ".sign-in-method"), "two-factor on") {
		t.Error("Members does not show two-factor")
	}
	u, _ := app.store.FindUserByEmail(context.Background(), "owner@example.com")
	if strings.Contains(u.TOTPSecret, secret) || u.TOTPKeyID == "" {
		t.Fatal("the seed is stored in the clear")
	}

	// The enrolment's code is used up: a sign-in in the same 30 seconds
	// needs the next one.
	app.clock.Advance(30 * time.Second)
	b := app.client(t)
	passwordStep(t, b, "owner@example.com")
	b.postForm(t, "/login/two-factor", url.Values{"code": {"123456"}}).wantStatus(t, http.StatusUnauthorized)
	code, _ := auth.TOTPCode(secret, app.clock.Now())
	b.postForm(t, "/login/two-factor", url.Values{"code": {code}}).wantRedirect(t, "/")
	b.get(t, "/settings/api-keys").wantStatus(t, http.StatusOK)

	// The same code again (a replay) is refused.
	replay := app.client(t)
	passwordStep(t, replay, "owner@example.com")
	replay.postForm(t, "/login/two-factor", url.Values{"code": {code}}).wantStatus(t, http.StatusUnauthorized)

	// A recovery code works once.
	rc := app.client(t)
	passwordStep(t, rc, "owner@example.com")
	rc.postForm(t, "/login/two-factor", url.Values{"code": {strings.ToUpper(codes[0])}}).wantRedirect(t, "/")
	again := app.client(t)
	passwordStep(t, again, "owner@example.com")
	again.postForm(t, "/login/two-factor", url.Values{"code": {codes[0]}}).wantStatus(t, http.StatusUnauthorized)

	// The password step alone expires.
	late := app.client(t)
	passwordStep(t, late, "owner@example.com")
	app.clock.Advance(6 * time.Minute)
	next, _ := auth.TOTPCode(secret, app.clock.Now())
	late.postForm(t, "/login/two-factor", url.Values{"code": {next}}).wantRedirect(t, "/login")

	// Turning it off needs the password and a code.
	cl = app.client(t)
	cl.login2FA(t, "owner@example.com", secret, app)
	cl.postForm(t, "/account/two-factor/disable", url.Values{"password": {"wrong password!"}, "code": {codes[1]}}).wantStatus(t, http.StatusUnprocessableEntity)
	cl.postForm(t, "/account/two-factor/disable", url.Values{"password": {testPassword}, "code": {"000000"}}).wantStatus(t, http.StatusUnprocessableEntity)
	cl.postForm(t, "/account/two-factor/disable", url.Values{"password": {testPassword}, "code": {codes[1]}}).wantRedirect(t, "/account/two-factor")
	app.client(t).login(t, "owner@example.com", testPassword)
	log := strings.Join(strings.Fields(cl.get(t, "/settings/audit-log").text(t, "table.audit tbody")), " ")
	for _, want := range []string{"turned on two-factor authentication", "signed in with a recovery code", "turned off two-factor authentication"} {
		if !strings.Contains(log, want) {
			t.Errorf("audit log lacks %q", want)
		}
	}
}

// login2FA signs in with the password and the current code (after the
// previous step, so the code is unused).
func (cl *testClient) login2FA(t *testing.T, email, secret string, app *testApp) {
	t.Helper()
	app.clock.Advance(30 * time.Second)
	passwordStep(t, cl, email)
	code, _ := auth.TOTPCode(secret, app.clock.Now())
	cl.postForm(t, "/login/two-factor", url.Values{"code": {code}}).wantRedirect(t, "/")
	cl.get(t, "/account/two-factor").wantStatus(t, http.StatusOK) // the new session's CSRF token
}

// A team that requires two-factor sends its admins without it to
// enrolment before settings; members and single sign-on are not asked.
func TestTeamRequiresTwoFactor(t *testing.T) {
	f := newMembersFixture(t, withConfig(withEncryptionKey))
	owner := f.signedIn(t, "owner@example.com")
	admin := f.signedIn(t, "admin@example.com")
	admin.postForm(t, "/settings/team/two-factor", url.Values{"require_2fa": {"on"}}).wantStatus(t, http.StatusForbidden)
	owner.postForm(t, "/settings/team/two-factor", url.Values{"require_2fa": {"on"}}).wantRedirect(t, "/settings/team")
	m, _ := f.app.store.FindMembership(context.Background(), f.acme.ID, f.owner.ID)
	if !m.Team.Require2FA {
		t.Fatal("the requirement was not saved")
	}
	admin.get(t, "/settings/api-keys").wantRedirect(t, "/account/two-factor")
	admin.htmxGet(t, "/settings/members").wantStatus(t, http.StatusUnauthorized)
	page := admin.get(t, "/account/two-factor")
	if !strings.Contains(page.text(t, ".notice-warn"), "requires two-factor") {
		t.Fatalf("the enrolment page does not say why:\n%s", page.Body)
	}
	enrolTwoFactor(t, f.app, admin)
	admin.get(t, "/settings/api-keys").wantStatus(t, http.StatusOK)
	// Members are not asked (they open no settings).
	f.signedIn(t, "member@example.com").get(t, "/").wantStatus(t, http.StatusOK)
	// The owner, too, enrols before changing anything else.
	owner.postForm(t, "/settings/team/two-factor", nil).wantRedirect(t, "/account/two-factor")
	f.app.clock.Advance(30 * time.Second)
	enrolTwoFactor(t, f.app, owner)
	owner.postForm(t, "/settings/team/two-factor", nil).wantRedirect(t, "/settings/team")
	if m, _ := f.app.store.FindMembership(context.Background(), f.acme.ID, f.owner.ID); m.Team.Require2FA {
		t.Fatal("the requirement was not turned off")
	}
}

// Without an encryption key there is nowhere safe to keep a seed: setting
// up two-factor is refused with a clear message.
func TestTwoFactorNeedsEncryptionKey(t *testing.T) {
	app := newTestApp(t)
	app.setup(t, "owner@example.com", testPassword, "Acme")
	cl := app.client(t)
	cl.login(t, "owner@example.com", testPassword)
	res := cl.postForm(t, "/account/two-factor/start", nil)
	if res.StatusCode < 400 || res.StatusCode >= 500 || !strings.Contains(res.Body, "KEYWARD_ENCRYPTION_KEY") {
		t.Fatalf("status %d:\n%s", res.StatusCode, res.Body)
	}
	if u, _ := app.store.FindUserByEmail(context.Background(), "owner@example.com"); u.TOTPSecret != "" {
		t.Fatal("a seed was stored")
	}
	_ = model.RoleAdmin
}
