package web

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/keyward/keyward/internal/auth"
	"github.com/keyward/keyward/internal/model"
	"github.com/keyward/keyward/views"
)

// handleMemberInvite serves POST /settings/members (fields email, role): it
// invites someone to the current team. The link (valid 7 days) goes by
// e-mail when keyward sends e-mail; otherwise it is shown once, in this
// response only: never in a redirect, a flash message, the session or a
// log line.
func (s *Server) handleMemberInvite(c echo.Context) error {
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
	token, hash := auth.NewLinkToken()
	inv, err := s.store.CreateInvitation(ctx, p.Membership.TeamID, form.Email, role, hash, s.now().Add(model.InvitationLifetime), actor(c))
	if model.ErrorCode(err) == model.ECONFLICT {
		errs.Add("email", model.ErrorMessage(err))
		return s.renderMembersForm(c, form, errs)
	}
	if err != nil {
		return err
	}
	s.logger(c).Info("member invited", "team_id", inv.TeamID, "invitation_id", inv.ID, "role", string(role))
	return s.deliverInvitation(c, inv, token, "Invitation sent to "+inv.Email+".")
}

// deliverInvitation mails the invitation link, or shows it once when
// keyward sends no e-mail.
func (s *Server) deliverInvitation(c echo.Context, inv model.Invitation, token, sentMessage string) error {
	p := currentPrincipal(c)
	link := s.linkURL(c, "/invitations/"+token)
	team := p.Membership.Team.Name
	sent, err := s.sendAccountMail(c, inv.Email,
		"You are invited to join "+team+" on keyward",
		p.User.Email+" invited you to join "+team+" on keyward as "+inv.Role.Label()+".\n\n"+
			"Accept the invitation:\n"+link+"\n\n"+
			"The link works once and expires in 7 days. If you did not expect this, ignore this e-mail.\n")
	if err != nil {
		return err
	}
	if sent {
		if err := s.flash(c, "success", sentMessage); err != nil {
			return err
		}
		return c.Redirect(http.StatusSeeOther, "/settings/members")
	}
	return s.showOneTimeLink(c, views.OneTimeLink{
		Title: "Invitation for " + inv.Email,
		Text:  "Anyone who opens this link before it expires in 7 days can join " + team + " as " + inv.Role.Label() + " with the e-mail " + inv.Email + ".",
		URL:   link,
	})
}

// showOneTimeLink answers the members page with a link shown once: not
// cached, not kept in htmx history.
func (s *Server) showOneTimeLink(c echo.Context, l views.OneTimeLink) error {
	noStore(c)
	c.Response().Header().Set("HX-Push-Url", "false")
	props, err := s.membersProps(c)
	if err != nil {
		return err
	}
	props.Link = &l
	return render(c, http.StatusOK, views.MembersPage(props))
}

// handleInvitationResend serves POST /settings/members/invitations/:id/resend:
// a new link with a new 7 days; the old link stops working.
func (s *Server) handleInvitationResend(c echo.Context) error {
	inv, err := s.findOpenInvitation(c)
	if err != nil {
		return err
	}
	if err := mayManageMember(c, "", inv.Role); err != nil {
		return err
	}
	token, hash := auth.NewLinkToken()
	inv, err = s.store.ResendInvitation(c.Request().Context(), teamID(c), inv.ID, hash, s.now().Add(model.InvitationLifetime), actor(c))
	if err != nil {
		return err
	}
	return s.deliverInvitation(c, inv, token, "Invitation sent to "+inv.Email+" again; the earlier link no longer works.")
}

// handleInvitationCancel serves POST /settings/members/invitations/:id/cancel.
func (s *Server) handleInvitationCancel(c echo.Context) error {
	inv, err := s.findOpenInvitation(c)
	if err != nil {
		return err
	}
	if err := mayManageMember(c, "", inv.Role); err != nil {
		return err
	}
	if _, err := s.store.CancelInvitation(c.Request().Context(), teamID(c), inv.ID, actor(c)); err != nil {
		return err
	}
	if err := s.flash(c, "success", "The invitation to "+inv.Email+" was cancelled; its link no longer works."); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/settings/members")
}

// findOpenInvitation returns the current team's open invitation named by
// :id; another team's id, or a malformed one, is ENOTFOUND.
func (s *Server) findOpenInvitation(c echo.Context) (model.Invitation, error) {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil || id <= 0 {
		return model.Invitation{}, model.Errorf(model.ENOTFOUND, "Invitation not found.")
	}
	invs, err := s.store.FindOpenInvitations(c.Request().Context(), teamID(c))
	if err != nil {
		return model.Invitation{}, err
	}
	for _, inv := range invs {
		if inv.ID == id {
			return inv, nil
		}
	}
	return model.Invitation{}, model.Errorf(model.ENOTFOUND, "Invitation not found.")
}

// renderMembersForm answers 422 with the members page and the invite form's
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
