package web

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/keyward/keyward/internal/model"
)

// membersFixture: Acme with an owner, an admin and a member, plus Other, a
// team of someone else's.
type membersFixture struct {
	app                    *testApp
	acme, other            model.Team
	owner                  model.User
	admin, member, outside model.Membership
}

func newMembersFixture(t *testing.T) *membersFixture {
	t.Helper()
	app := newTestApp(t)
	f := &membersFixture{app: app}
	f.owner, f.acme = app.setup(t, "owner@example.com", testPassword, "Acme")
	f.admin = app.newMember(t, f.acme.ID, "admin@example.com", model.RoleAdmin)
	f.member = app.newMember(t, f.acme.ID, "member@example.com", model.RoleMember)
	f.other = app.createTeam(t, "Other")
	f.outside = app.newMember(t, f.other.ID, "stranger@example.com", model.RoleOwner)
	return f
}

func (f *membersFixture) signedIn(t *testing.T, email string) *testClient {
	t.Helper()
	cl := f.app.client(t)
	cl.login(t, email, testPassword)
	return cl
}

func (f *membersFixture) role(t *testing.T, teamID, userID int64) model.Role {
	t.Helper()
	m, err := f.app.store.FindMembership(context.Background(), teamID, userID)
	if model.ErrorCode(err) == model.ENOTFOUND {
		return ""
	}
	if err != nil {
		t.Fatal(err)
	}
	return m.Role
}

func TestMemberGets403OnEverySettingsRoute(t *testing.T) {
	f := newMembersFixture(t)
	cl := f.signedIn(t, "member@example.com")
	n := 0
	for _, r := range f.app.srv.echo.Routes() {
		if !strings.HasPrefix(r.Path, "/settings") || strings.Contains(r.Path, "*") || r.Method == echo.RouteNotFound {
			continue
		}
		path := strings.NewReplacer(":id", strconv.FormatInt(f.admin.ID, 10)).Replace(r.Path)
		var res *testResponse
		switch r.Method {
		case http.MethodGet:
			res = cl.get(t, path)
		case http.MethodPost:
			res = cl.postForm(t, path, url.Values{"role": {"OWNER"}, "email": {"x@example.com"}, "name": {"x"}})
		default:
			res = cl.htmx(t, r.Method, path, url.Values{})
		}
		if res.StatusCode != http.StatusForbidden {
			t.Errorf("MEMBER %s %s: status %d, want 403", r.Method, path, res.StatusCode)
		}
		n++
	}
	if n < 5 {
		t.Fatalf("only %d settings routes found", n)
	}
	if got := f.role(t, f.acme.ID, f.admin.UserID); got != model.RoleAdmin {
		t.Fatalf("a MEMBER changed the admin's role to %s", got)
	}
	// The 403 is the friendly page, and a member sees no settings links.
	res := cl.get(t, "/settings/members")
	if !strings.Contains(res.text(t, ".error-page"), "owners and admins") {
		t.Errorf("403 page does not explain:\n%s", res.Body)
	}
	home := cl.get(t, "/")
	home.wantStatus(t, http.StatusOK)
	for _, res := range []*testResponse{res, home} {
		if res.has(t, `a[href="/settings/api-keys"]`) || res.has(t, `a[href="/settings/members"]`) || res.has(t, "nav.sidebar") {
			t.Errorf("a MEMBER is shown settings links:\n%s", res.Body)
		}
	}
	if got := home.text(t, "table.teams tbody th"); !strings.Contains(got, "Acme") {
		t.Errorf("home page teams = %q", got)
	}
	if got := home.text(t, "table.teams tbody td"); !strings.Contains(got, "Member") {
		t.Errorf("home page roles = %q", got)
	}
}

func TestMembersList(t *testing.T) {
	f := newMembersFixture(t)
	cl := f.signedIn(t, "admin@example.com")
	res := cl.get(t, "/settings/members")
	res.wantStatus(t, http.StatusOK)
	rows := res.find(t, "table.members tbody tr")
	if len(rows) != 3 {
		t.Fatalf("%d rows, want 3:\n%s", len(rows), res.Body)
	}
	body := res.text(t, "table.members tbody")
	for _, want := range []string{"owner@example.com", "admin@example.com", "member@example.com", "Owner", "Admin", "Member"} {
		if !strings.Contains(body, want) {
			t.Errorf("members table lacks %q: %s", want, body)
		}
	}
	if strings.Contains(body, "stranger@example.com") {
		t.Fatal("another team's member is listed")
	}
	tm := res.first(t, "table.members tbody time")
	if attr(tm, "datetime") == "" || !strings.HasSuffix(attr(tm, "title"), "UTC") {
		t.Errorf("joined time lacks datetime/title: %v", tm.Attr)
	}
	// An admin is not offered Owner, and cannot edit the owner's row.
	if res.has(t, `select#member-role option[value=OWNER]`) {
		t.Error("an ADMIN is offered the Owner role")
	}
	ownerRow := res.first(t, "tr#member-"+strconv.FormatInt(ownerMembership(t, f).ID, 10))
	if len(queryAll(ownerRow, "form")) != 0 {
		t.Error("an ADMIN can edit the owner's row")
	}
	if cl.get(t, "/settings/members").Header.Get("Cache-Control") != "no-store" {
		t.Error("settings page is cacheable")
	}
}

func ownerMembership(t *testing.T, f *membersFixture) model.Membership {
	t.Helper()
	m, err := f.app.store.FindMembership(context.Background(), f.acme.ID, f.owner.ID)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// invite posts the invite form and returns the invitation link shown once
// (keyward sends no e-mail in these tests).
func invite(t *testing.T, cl *testClient, email, role string) string {
	t.Helper()
	res := cl.postForm(t, "/settings/members", url.Values{"email": {email}, "role": {role}})
	res.wantStatus(t, http.StatusOK)
	link := attr(res.first(t, "input#one-time-link"), "value")
	if !strings.Contains(link, "/invitations/") {
		t.Fatalf("invitation link = %q", link)
	}
	return link
}

// linkPath is the path of a link shown in the dashboard.
func linkPath(t *testing.T, link string) string {
	t.Helper()
	u, err := url.Parse(link)
	if err != nil {
		t.Fatal(err)
	}
	return u.Path
}

func TestInviteMember(t *testing.T) {
	f := newMembersFixture(t)
	cl := f.signedIn(t, "admin@example.com")

	// A new person: the link is in this response only.
	res := cl.postForm(t, "/settings/members", url.Values{"email": {"Nina@example.com"}, "role": {"MEMBER"}})
	res.wantStatus(t, http.StatusOK)
	if res.Header.Get("Cache-Control") != "no-store" || res.Header.Get("HX-Push-Url") != "false" {
		t.Error("the response with the link is cacheable or kept in history")
	}
	link := attr(res.first(t, "input#one-time-link"), "value")
	path := linkPath(t, link)
	token := strings.TrimPrefix(path, "/invitations/")
	if len(token) != 43 {
		t.Fatalf("invitation link %q", link)
	}
	for _, h := range []string{"Location", "Set-Cookie"} {
		if strings.Contains(strings.Join(res.Header.Values(h), " "), token) {
			t.Errorf("the token is in %s", h)
		}
	}
	page := cl.get(t, "/settings/members")
	if strings.Contains(page.Body, token) {
		t.Error("the link is shown again")
	}
	if got := page.text(t, "section.invitations tbody"); !strings.Contains(got, "nina@example.com") || !strings.Contains(got, "Member") {
		t.Errorf("pending invitations = %q", got)
	}
	if _, err := f.app.store.FindUserByEmail(context.Background(), "nina@example.com"); model.ErrorCode(err) != model.ENOTFOUND {
		t.Fatal("inviting created an account")
	}

	// Twice: a clear message next to the field; a member: likewise.
	res = cl.postForm(t, "/settings/members", url.Values{"email": {"nina@example.com"}, "role": {"ADMIN"}})
	res.wantStatus(t, http.StatusUnprocessableEntity)
	if !strings.Contains(res.text(t, "small#member-email-error"), "invited already") {
		t.Errorf("duplicate invitation message: %q", res.text(t, "small.error"))
	}
	res = cl.postForm(t, "/settings/members", url.Values{"email": {"member@example.com"}, "role": {"ADMIN"}})
	res.wantStatus(t, http.StatusUnprocessableEntity)
	if !strings.Contains(res.text(t, "small#member-email-error"), "already a member") {
		t.Errorf("member invitation message: %q", res.text(t, "small.error"))
	}
	// Bad input.
	res = cl.postForm(t, "/settings/members", url.Values{"email": {"nope"}, "role": {"KING"}})
	res.wantStatus(t, http.StatusUnprocessableEntity)
	if !res.has(t, "small#member-email-error") || !res.has(t, "small#member-role-error") {
		t.Errorf("missing field errors:\n%s", res.Body)
	}

	// The newcomer opens the link, chooses a password and is in.
	newcomer := f.app.client(t)
	form := newcomer.get(t, path)
	form.wantStatus(t, http.StatusOK)
	if !strings.Contains(form.text(t, "p.lead"), "Acme") || !form.has(t, "input#password") {
		t.Fatalf("invitation page:\n%s", form.Body)
	}
	newcomer.postForm(t, path, url.Values{"password": {"nina@example"}, "confirm_password": {"nina@example"}}).wantStatus(t, http.StatusUnprocessableEntity)
	res = newcomer.postForm(t, path, url.Values{"password": {"new member's own passphrase"}, "confirm_password": {"another one entirely"}})
	res.wantStatus(t, http.StatusUnprocessableEntity)
	if !res.has(t, "small#confirm_password-error") {
		t.Fatal("no message for a mismatched confirmation")
	}
	newcomer.postForm(t, path, url.Values{"password": {"new member's own passphrase"}, "confirm_password": {"new member's own passphrase"}}).wantRedirect(t, "/")
	if got := f.role(t, f.acme.ID, userID(t, f.app, "nina@example.com")); got != model.RoleMember {
		t.Fatalf("new user's role = %q", got)
	}
	newcomer.get(t, "/").wantStatus(t, http.StatusOK) // a member's home page: signed in
	f.app.client(t).login(t, "nina@example.com", "new member's own passphrase")

	// The link works once.
	again := f.app.client(t)
	again.get(t, path).wantStatus(t, http.StatusNotFound)
	again.postForm(t, path, url.Values{"password": {"someone else's passphrase"}, "confirm_password": {"someone else's passphrase"}}).wantStatus(t, http.StatusNotFound)
	if strings.Contains(f.app.logs.String(), token) {
		t.Error("the invitation token was logged")
	}
	if cl.get(t, "/settings/members").has(t, "section.invitations") {
		t.Error("an accepted invitation is still listed")
	}
}

// Someone with an account joins after signing in as the invited address;
// another account cannot use the link.
func TestInviteExistingUser(t *testing.T) {
	f := newMembersFixture(t)
	cl := f.signedIn(t, "owner@example.com")
	path := linkPath(t, invite(t, cl, "stranger@example.com", "ADMIN"))

	visitor := f.app.client(t)
	page := visitor.get(t, path)
	page.wantStatus(t, http.StatusOK)
	if !page.has(t, `a[href="/login?next=`+path+`"]`) || page.has(t, "input#password") {
		t.Fatalf("a signed-out invitee with an account should be sent to sign in:\n%s", page.Body)
	}
	visitor.postForm(t, path, url.Values{"password": {"taking over the account"}, "confirm_password": {"taking over the account"}}).
		wantRedirect(t, "/login?next="+path)

	// Signed in as someone else: refused, nothing changes.
	wrong := f.signedIn(t, "member@example.com")
	wrong.postForm(t, path, nil).wantStatus(t, http.StatusForbidden)

	stranger := f.app.client(t)
	stranger.postForm(t, "/login", url.Values{"email": {"stranger@example.com"}, "password": {testPassword}, "next": {path}}).wantRedirect(t, path)
	if !stranger.get(t, path).has(t, `form[action="`+path+`"] button[type=submit]`) {
		t.Fatal("no Join button for the signed-in invitee")
	}
	stranger.postForm(t, path, nil).wantRedirect(t, "/")
	if got := f.role(t, f.acme.ID, f.outside.UserID); got != model.RoleAdmin {
		t.Fatalf("stranger's role in Acme = %q, want ADMIN", got)
	}
	if got := f.role(t, f.other.ID, f.outside.UserID); got != model.RoleOwner {
		t.Fatalf("stranger's role in their own team changed to %q", got)
	}
}

func TestInvitationResendCancelExpire(t *testing.T) {
	f := newMembersFixture(t)
	cl := f.signedIn(t, "owner@example.com")
	first := linkPath(t, invite(t, cl, "late@example.com", "MEMBER"))
	invs, err := f.app.store.FindOpenInvitations(context.Background(), f.acme.ID)
	if err != nil || len(invs) != 1 {
		t.Fatalf("open invitations: %v %v", invs, err)
	}
	id := strconv.FormatInt(invs[0].ID, 10)

	// Expired after 7 days: the link is gone, the row says Expired.
	f.app.clock.Advance(model.InvitationLifetime)
	f.app.client(t).get(t, first).wantStatus(t, http.StatusNotFound)
	cl = f.signedIn(t, "owner@example.com") // the session ended meanwhile
	if !cl.get(t, "/settings/members").has(t, "#invitation-"+id+" .badge-expired") {
		t.Fatal("an expired invitation is not marked")
	}

	// Resend: a new link for 7 more days; the old one stays dead.
	res := cl.postForm(t, "/settings/members/invitations/"+id+"/resend", nil)
	res.wantStatus(t, http.StatusOK)
	second := linkPath(t, attr(res.first(t, "input#one-time-link"), "value"))
	if second == first {
		t.Fatal("resend kept the same link")
	}
	f.app.client(t).get(t, first).wantStatus(t, http.StatusNotFound)
	f.app.client(t).get(t, second).wantStatus(t, http.StatusOK)

	// Another team's owner cannot resend or cancel it.
	outsider := f.signedIn(t, "stranger@example.com")
	outsider.postForm(t, "/settings/members/invitations/"+id+"/cancel", nil).wantStatus(t, http.StatusNotFound)
	outsider.postForm(t, "/settings/members/invitations/"+id+"/resend", nil).wantStatus(t, http.StatusNotFound)
	f.app.client(t).get(t, second).wantStatus(t, http.StatusOK)

	// Cancel: the link stops working, the row goes.
	cl.postForm(t, "/settings/members/invitations/"+id+"/cancel", nil).wantRedirect(t, "/settings/members")
	f.app.client(t).get(t, second).wantStatus(t, http.StatusNotFound)
	if cl.get(t, "/settings/members").has(t, "#invitation-"+id) {
		t.Fatal("a cancelled invitation is still listed")
	}
	cl.postForm(t, "/settings/members/invitations/"+id+"/cancel", nil).wantStatus(t, http.StatusNotFound)

	// Each step is in the audit log.
	log := cl.get(t, "/settings/audit-log").text(t, "table.audit tbody")
	for _, want := range []string{"invited late@example.com as Member", "sent late@example.com's invitation again", "cancelled the invitation of late@example.com"} {
		if !strings.Contains(log, want) {
			t.Errorf("audit log lacks %q:\n%s", want, log)
		}
	}
	// A malformed or random token is the same 404.
	for _, p := range []string{"/invitations/x", "/invitations/" + strings.Repeat("A", 43)} {
		f.app.client(t).get(t, p).wantStatus(t, http.StatusNotFound)
	}
}

func userID(t *testing.T, app *testApp, email string) int64 {
	t.Helper()
	u, err := app.store.FindUserByEmail(context.Background(), email)
	if err != nil {
		t.Fatal(err)
	}
	return u.ID
}

func TestAdminCannotGrantOrTouchOwner(t *testing.T) {
	f := newMembersFixture(t)
	cl := f.signedIn(t, "admin@example.com")
	owner := ownerMembership(t, f)
	memberID := strconv.FormatInt(f.member.ID, 10)
	ownerID := strconv.FormatInt(owner.ID, 10)

	for _, tc := range []struct{ path, role string }{
		{"/settings/members/" + memberID + "/role", "OWNER"},
		{"/settings/members/" + strconv.FormatInt(f.admin.ID, 10) + "/role", "OWNER"},
		{"/settings/members/" + ownerID + "/role", "MEMBER"},
		{"/settings/members/" + ownerID + "/remove", ""},
	} {
		res := cl.postForm(t, tc.path, url.Values{"role": {tc.role}})
		if res.StatusCode != http.StatusForbidden {
			t.Errorf("ADMIN POST %s role=%s: status %d, want 403", tc.path, tc.role, res.StatusCode)
		}
	}
	res := cl.postForm(t, "/settings/members", url.Values{"email": {"boss@example.com"}, "role": {"OWNER"}})
	res.wantStatus(t, http.StatusForbidden)
	if invs, _ := f.app.store.FindOpenInvitations(context.Background(), f.acme.ID); len(invs) != 0 {
		t.Error("a refused invitation was recorded")
	}
	// Nor resend or cancel an owner's invitation, nor reset an owner's password.
	oc := f.signedIn(t, "owner@example.com")
	invite(t, oc, "boss@example.com", "OWNER")
	invs, _ := f.app.store.FindOpenInvitations(context.Background(), f.acme.ID)
	invID := strconv.FormatInt(invs[0].ID, 10)
	cl.postForm(t, "/settings/members/invitations/"+invID+"/resend", nil).wantStatus(t, http.StatusForbidden)
	cl.postForm(t, "/settings/members/invitations/"+invID+"/cancel", nil).wantStatus(t, http.StatusForbidden)
	cl.postForm(t, "/settings/members/"+ownerID+"/password-reset", nil).wantStatus(t, http.StatusForbidden)
	if f.role(t, f.acme.ID, f.member.UserID) != model.RoleMember || f.role(t, f.acme.ID, f.admin.UserID) != model.RoleAdmin ||
		f.role(t, f.acme.ID, f.owner.ID) != model.RoleOwner {
		t.Fatal("an ADMIN changed an owner-only role")
	}

	// An ADMIN may still manage admins and members.
	cl.postForm(t, "/settings/members/"+memberID+"/role", url.Values{"role": {"ADMIN"}}).wantRedirect(t, "/settings/members")
	if got := f.role(t, f.acme.ID, f.member.UserID); got != model.RoleAdmin {
		t.Fatalf("role after ADMIN promoted a member = %s", got)
	}

	// An OWNER may grant OWNER.
	oc = f.signedIn(t, "owner@example.com")
	oc.postForm(t, "/settings/members/"+memberID+"/role", url.Values{"role": {"OWNER"}}).wantRedirect(t, "/settings/members")
	if got := f.role(t, f.acme.ID, f.member.UserID); got != model.RoleOwner {
		t.Fatalf("role after OWNER granted OWNER = %s", got)
	}
}

func TestLastOwnerCannotLeaveOrBeDemoted(t *testing.T) {
	f := newMembersFixture(t)
	cl := f.signedIn(t, "owner@example.com")
	owner := ownerMembership(t, f)
	id := strconv.FormatInt(owner.ID, 10)

	cl.postForm(t, "/settings/members/"+id+"/remove", nil).wantRedirect(t, "/settings/members")
	if got := cl.get(t, "/settings/members").text(t, ".notice-error"); !strings.Contains(got, "last owner") {
		t.Errorf("leave notice = %q", got)
	}
	cl.postForm(t, "/settings/members/"+id+"/role", url.Values{"role": {"ADMIN"}}).wantRedirect(t, "/settings/members")
	if got := cl.get(t, "/settings/members").text(t, ".notice-error"); !strings.Contains(got, "at least one owner") {
		t.Errorf("demote notice = %q", got)
	}
	if got := f.role(t, f.acme.ID, f.owner.ID); got != model.RoleOwner {
		t.Fatalf("the last owner is now %q", got)
	}

	// With a second owner, the first may leave; their session ends.
	cl.postForm(t, "/settings/members/"+strconv.FormatInt(f.admin.ID, 10)+"/role", url.Values{"role": {"OWNER"}}).wantRedirect(t, "/settings/members")
	cl.postForm(t, "/settings/members/"+id+"/remove", nil).wantRedirect(t, "/login")
	if got := f.role(t, f.acme.ID, f.owner.ID); got != "" {
		t.Fatalf("owner still in the team as %s", got)
	}
	cl.get(t, "/").wantRedirect(t, "/login")
}

func TestAnotherTeamsMemberIDIs404(t *testing.T) {
	f := newMembersFixture(t)
	cl := f.signedIn(t, "owner@example.com")
	id := strconv.FormatInt(f.outside.ID, 10)
	cl.get(t, "/settings/members/"+id+"/remove").wantStatus(t, http.StatusNotFound)
	cl.postForm(t, "/settings/members/"+id+"/role", url.Values{"role": {"MEMBER"}}).wantStatus(t, http.StatusNotFound)
	cl.postForm(t, "/settings/members/"+id+"/remove", nil).wantStatus(t, http.StatusNotFound)
	cl.postForm(t, "/settings/members/not-a-number/remove", nil).wantStatus(t, http.StatusNotFound)
	if got := f.role(t, f.other.ID, f.outside.UserID); got != model.RoleOwner {
		t.Fatalf("another team's member changed to %q", got)
	}
}

func TestRoleIsReadOnEveryRequest(t *testing.T) {
	f := newMembersFixture(t)
	admin := f.signedIn(t, "admin@example.com")
	admin.get(t, "/settings/members").wantStatus(t, http.StatusOK)

	owner := f.signedIn(t, "owner@example.com")
	owner.postForm(t, "/settings/members/"+strconv.FormatInt(f.admin.ID, 10)+"/role", url.Values{"role": {"MEMBER"}}).
		wantRedirect(t, "/settings/members")
	admin.get(t, "/settings/members").wantStatus(t, http.StatusForbidden)

	// Removal ends the removed member's sessions.
	member := f.signedIn(t, "member@example.com")
	member.get(t, "/").wantStatus(t, http.StatusOK)
	owner.postForm(t, "/settings/members/"+strconv.FormatInt(f.member.ID, 10)+"/remove", nil).wantRedirect(t, "/settings/members")
	member.get(t, "/").wantRedirect(t, "/login")
}

func TestRemoveConfirmPageWorksWithoutJavaScript(t *testing.T) {
	f := newMembersFixture(t)
	cl := f.signedIn(t, "owner@example.com")
	page := cl.get(t, "/settings/members")
	id := strconv.FormatInt(f.member.ID, 10)
	link := page.first(t, `a[href="/settings/members/`+id+`/remove"]`)
	if attr(link, "data-open-dialog") != "#remove-member-"+id || !page.has(t, "dialog#remove-member-"+id) {
		t.Fatalf("remove link does not open a confirm dialog")
	}
	res := cl.get(t, "/settings/members/"+id+"/remove")
	res.wantStatus(t, http.StatusOK)
	form := res.first(t, `form[action="/settings/members/`+id+`/remove"]`)
	if len(queryAll(form, "input[name=_csrf]")) != 1 {
		t.Fatal("confirm form lacks the CSRF field")
	}
	if f.role(t, f.acme.ID, f.member.UserID) != model.RoleMember {
		t.Fatal("GET changed something")
	}
	cl.postForm(t, "/settings/members/"+id+"/remove", nil).wantRedirect(t, "/settings/members")
	if f.role(t, f.acme.ID, f.member.UserID) != "" {
		t.Fatal("member not removed")
	}
}

func TestTeamSwitch(t *testing.T) {
	f := newMembersFixture(t)
	second := f.app.createTeam(t, "Beta")
	f.app.addMember(t, second.ID, f.member.UserID, model.RoleAdmin)
	cl := f.signedIn(t, "member@example.com")

	home := cl.get(t, "/")
	home.wantStatus(t, http.StatusOK)
	if !home.has(t, `form[action="/teams/switch"] select[name=team_id]`) {
		t.Fatalf("no team switcher in the header:\n%s", home.Body)
	}
	// Another team's id: 404, and nothing changes.
	cl.postForm(t, "/teams/switch", url.Values{"team_id": {strconv.FormatInt(f.other.ID, 10)}}).wantStatus(t, http.StatusNotFound)
	cl.get(t, "/").wantStatus(t, http.StatusOK)

	// A MEMBER of Acme, an ADMIN of Beta: switching opens settings.
	var to int64
	for _, tm := range []model.Team{f.acme, second} {
		if tm.ID != f.acme.ID {
			to = tm.ID
		}
	}
	cl.postForm(t, "/teams/switch", url.Values{"team_id": {strconv.FormatInt(to, 10)}}).wantRedirect(t, "/")
	cl.get(t, "/").wantRedirect(t, "/settings/api-keys")
	res := cl.get(t, "/settings/members")
	res.wantStatus(t, http.StatusOK)
	if got := res.text(t, "table.members tbody th"); !strings.Contains(got, "member@example.com") || strings.Contains(got, "owner@example.com") {
		t.Errorf("members of the switched-to team: %q", got)
	}
	// Removed from the current team: the next request falls back to Acme.
	if err := f.app.store.RemoveMember(context.Background(), second.ID, mustMembership(t, f.app, second.ID, f.member.UserID).ID, model.Actor{Label: "test"}); err != nil {
		t.Fatal(err)
	}
	cl2 := f.signedIn(t, "member@example.com")
	cl2.get(t, "/").wantStatus(t, http.StatusOK)
}

func mustMembership(t *testing.T, app *testApp, teamID, userID int64) model.Membership {
	t.Helper()
	m, err := app.store.FindMembership(context.Background(), teamID, userID)
	if err != nil {
		t.Fatal(err)
	}
	return m
}
