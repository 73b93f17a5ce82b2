package web

import (
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/keyward/keyward/internal/auth"
	"github.com/keyward/keyward/internal/model"
	"github.com/keyward/keyward/views"
)

// handleMemberAdd serves POST /settings/members: it adds a user to the
// current team by e-mail with a role. An unknown e-mail gets a new account
// whose generated password is shown once, in this response only: never in a
// redirect, a flash message, the session or a log line.
func (s *Server) handleMemberAdd(c echo.Context) error {
	ctx := c.Request().Context()
	p := currentPrincipal(c)
	form := views.MemberAddForm{Email: strings.TrimSpace(c.FormValue("email")), Role: model.Role(c.FormValue("role"))}
	errs := model.FieldErrors{}
	checkEmail(errs, "email", form.Email)
	role, err := model.ParseRole(c.FormValue("role"))
	if err != nil {
		errs.Add("role", "Choose Owner, Admin or Member.")
	} else if err := mayManageMember(c, "", role); err != nil {
		return err
	}
	if len(errs) > 0 {
		return s.renderMembersForm(c, form, errs)
	}
	var password string
	var m model.Membership
	u, err := s.store.FindUserByEmail(ctx, form.Email)
	switch {
	case err == nil:
		m, err = s.store.AddMember(ctx, p.Membership.TeamID, u.ID, role, actor(c))
	case model.ErrorCode(err) == model.ENOTFOUND:
		password = auth.GeneratePassword()
		hash, herr := auth.HashPassword(password)
		if herr != nil {
			return herr
		}
		m, err = s.store.AddNewMember(ctx, p.Membership.TeamID, form.Email, hash, role, actor(c))
		u = m.User
	}
	if model.ErrorCode(err) == model.ECONFLICT {
		errs.Add("email", model.ErrorMessage(err))
		return s.renderMembersForm(c, form, errs)
	}
	if err != nil {
		return err
	}
	s.logger(c).Info("member added", "team_id", m.TeamID, "membership_id", m.ID, "role", string(role), "new_account", password != "")
	if password == "" {
		if err := s.flash(c, "success", u.Email+" was added to "+p.Membership.Team.Name+" as "+role.Label()+"."); err != nil {
			return err
		}
		return c.Redirect(http.StatusSeeOther, "/settings/members")
	}
	// The one response that carries the password: not cached, not kept in
	// htmx history.
	noStore(c)
	c.Response().Header().Set("HX-Push-Url", "false")
	props, err := s.membersProps(c)
	if err != nil {
		return err
	}
	props.NewUser = &views.NewUserPassword{Email: u.Email, Password: password, Role: role, Team: p.Membership.Team.Name}
	return render(c, http.StatusOK, views.MembersPage(props))
}

// renderMembersForm answers 422 with the members page and the add form's
// input and messages.
func (s *Server) renderMembersForm(c echo.Context, form views.MemberAddForm, errs model.FieldErrors) error {
	props, err := s.membersProps(c)
	if err != nil {
		return err
	}
	form.Errors = errs
	props.Add = form
	return render(c, http.StatusUnprocessableEntity, views.MembersPage(props))
}
