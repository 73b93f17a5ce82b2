package web

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/keyward/keyward/internal/auth"
	"github.com/keyward/keyward/internal/model"
	"github.com/keyward/keyward/views"
)

// invitationProps reads the invitation behind the :token parameter and the
// visitor's state. A malformed, unknown, used, cancelled or expired token
// is ENOTFOUND, with one message for all.
func (s *Server) invitationProps(c echo.Context) (views.InvitationProps, model.Invitation, *principal, error) {
	token := c.Param("token")
	if !auth.ValidLinkToken(token) {
		return views.InvitationProps{}, model.Invitation{}, nil, invitationGoneError()
	}
	ctx := c.Request().Context()
	inv, err := s.store.FindInvitationByToken(ctx, auth.HashLinkToken(token))
	if err != nil {
		return views.InvitationProps{}, inv, nil, err
	}
	p, err := s.loadPrincipal(c)
	if err != nil {
		return views.InvitationProps{}, inv, nil, err
	}
	props := views.InvitationProps{CSRF: csrfToken(c), Token: token, Email: inv.Email, Team: inv.Team.Name, Role: inv.Role}
	if p != nil {
		props.SignedInAs = p.User.Email
	} else {
		_, err := s.store.FindUserByEmail(ctx, inv.Email)
		switch model.ErrorCode(err) {
		case "":
			props.HasAccount = true
		case model.ENOTFOUND:
		default:
			return props, inv, nil, err
		}
	}
	return props, inv, p, nil
}

func invitationGoneError() error {
	return model.Errorf(model.ENOTFOUND, "This invitation link is not valid any more: it was used, cancelled or has expired. Ask the person who invited you to send a new one.")
}

// handleInvitationForm serves GET /invitations/:token.
func (s *Server) handleInvitationForm(c echo.Context) error {
	noStore(c)
	props, _, _, err := s.invitationProps(c)
	if model.ErrorCode(err) == model.ENOTFOUND {
		return render(c, http.StatusNotFound, views.LinkGonePage("Invitation not valid", model.ErrorMessage(err), csrfToken(c)))
	}
	if err != nil {
		return err
	}
	return render(c, http.StatusOK, views.InvitationPage(props))
}

// handleInvitationAccept serves POST /invitations/:token: the signed-in
// invitee joins the team; someone without an account creates one with a
// password of their choice (fields password, confirm_password) and joins.
// Either way they are signed in to the team afterwards.
func (s *Server) handleInvitationAccept(c echo.Context) error {
	noStore(c)
	ctx := c.Request().Context()
	props, inv, p, err := s.invitationProps(c)
	if model.ErrorCode(err) == model.ENOTFOUND {
		return render(c, http.StatusNotFound, views.LinkGonePage("Invitation not valid", model.ErrorMessage(err), csrfToken(c)))
	}
	if err != nil {
		return err
	}
	hash := auth.HashLinkToken(props.Token)
	var m model.Membership
	switch {
	case p != nil:
		m, err = s.store.AcceptInvitation(ctx, hash, p.User.ID, "", c.RealIP())
	case props.HasAccount:
		return c.Redirect(http.StatusSeeOther, "/login?next=/invitations/"+props.Token)
	default:
		password, confirm := c.FormValue("password"), c.FormValue("confirm_password")
		errs := model.FieldErrors{}
		if perr := auth.ValidatePassword(password, auth.PasswordContext{Email: inv.Email, Teams: []string{inv.Team.Name}}); perr != nil {
			errs.Add("password", model.ErrorMessage(perr))
		} else if confirm != password {
			errs.Add("confirm_password", "The two passwords do not match. Type the password again.")
		}
		if len(errs) > 0 {
			props.Errors = errs
			return render(c, http.StatusUnprocessableEntity, views.InvitationPage(props))
		}
		pwHash, herr := auth.HashPassword(password)
		if herr != nil {
			return herr
		}
		m, err = s.store.AcceptInvitation(ctx, hash, 0, pwHash, c.RealIP())
	}
	if model.ErrorCode(err) == model.ENOTFOUND {
		return render(c, http.StatusNotFound, views.LinkGonePage("Invitation not valid", model.ErrorMessage(err), csrfToken(c)))
	}
	if err != nil {
		return err
	}
	s.acc.hasUsers.Store(true)
	s.logger(c).Info("invitation accepted", "team_id", m.TeamID, "membership_id", m.ID, "new_account", p == nil)
	if err := s.signIn(c, m.UserID, m.TeamID); err != nil {
		return err
	}
	if err := s.flash(c, "success", "Welcome to "+inv.Team.Name+". You joined as "+inv.Role.Label()+"."); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/")
}
