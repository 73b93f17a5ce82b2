package web

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/keyward/keyward/internal/auth"
	"github.com/keyward/keyward/internal/model"
	"github.com/keyward/keyward/views"
)

// invitationProps reads the invitation behind token and the visitor's
// state. A malformed, unknown, used, cancelled or expired token is
// ENOTFOUND, with one message for all.
func (s *Server) invitationProps(c echo.Context, token string) (views.InvitationProps, model.Invitation, *principal, error) {
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
	props := views.InvitationProps{CSRF: csrfToken(c), Token: token, Email: inv.Email, Team: inv.Team.Name, Role: inv.Role, SSOOnly: s.cfg.SSOOnly}
	if s.cfg.OIDC.Enabled() {
		props.SSOName = s.cfg.OIDC.Name
	}
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

func invitationGone(c echo.Context, err error) error {
	return render(c, http.StatusNotFound, views.LinkGonePage("Invitation not valid", model.ErrorMessage(err), csrfToken(c)))
}

// handleInvitationForm serves GET /invitations/:token.
func (s *Server) handleInvitationForm(c echo.Context) error {
	noStore(c)
	props, _, _, err := s.invitationProps(c, c.Param("token"))
	if model.ErrorCode(err) == model.ENOTFOUND {
		return invitationGone(c, err)
	}
	if err != nil {
		return err
	}
	return render(c, http.StatusOK, views.InvitationPage(props))
}

// handleInvitationAccept serves POST /invitations/:token: the signed-in
// invitee joins the team; someone without an account creates one with a
// password of their choice (fields password, confirm_password) and joins,
// unless password sign-in is off (then only single sign-on accepts, through
// GET /invitations/:token/sso). Either way they are signed in to the team
// afterwards.
func (s *Server) handleInvitationAccept(c echo.Context) error {
	noStore(c)
	ctx := c.Request().Context()
	props, inv, p, err := s.invitationProps(c, c.Param("token"))
	if model.ErrorCode(err) == model.ENOTFOUND {
		return invitationGone(c, err)
	}
	if err != nil {
		return err
	}
	hash := auth.HashLinkToken(props.Token)
	var m model.Membership
	switch {
	case p != nil:
		m, err = s.store.AcceptInvitation(ctx, hash, p.User.ID, "", c.RealIP())
	case s.cfg.SSOOnly:
		props.Notice = &views.Flash{Kind: "error", Message: "Password sign-in is turned off here: continue with " + s.cfg.OIDC.Name + " to accept the invitation."}
		return render(c, http.StatusForbidden, views.InvitationPage(props))
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
		return invitationGone(c, err)
	}
	if err != nil {
		return err
	}
	s.acc.hasUsers.Store(true)
	s.logger(c).Info("invitation accepted", "team_id", m.TeamID, "membership_id", m.ID, "new_account", p == nil)
	return s.finishSignIn(c, m.User, m.TeamID, "/", "Welcome to "+inv.Team.Name+". You joined as "+m.Role.Label()+".")
}

// handleInvitationSSO serves GET /invitations/:token/sso: it starts single
// sign-on (as GET /auth/oidc/login does) for accepting the invitation. The
// token travels in the session, never through the provider; the callback
// accepts it for the person the provider vouches for (acceptInvitationSSO).
func (s *Server) handleInvitationSSO(c echo.Context) error {
	if !s.cfg.OIDC.Enabled() {
		return echo.ErrNotFound
	}
	noStore(c)
	props, _, _, err := s.invitationProps(c, c.Param("token"))
	if model.ErrorCode(err) == model.ENOTFOUND {
		return invitationGone(c, err)
	}
	if err != nil {
		return err
	}
	return s.startOIDC(c, "/", props.Token)
}

// acceptInvitationSSO ends a single sign-on started from an invitation: the
// provider's verified e-mail must be the invited address; then the account
// is found, linked or created as at any single sign-on, joins the team with
// the invited role, the roles file applies as at every sign-in (a team it
// lists takes the role the groups give, and with no such role the
// invitation is refused and stays pending), and the person is signed in to
// the team. Any refusal leaves the invitation as it was.
func (s *Server) acceptInvitationSSO(c echo.Context, token, email, subject string, desired map[string]model.Role, actor model.Actor) error {
	props, inv, _, err := s.invitationProps(c, token)
	if model.ErrorCode(err) == model.ENOTFOUND {
		s.logger(c).Warn("single sign-on for an invitation that is gone", "ip", c.RealIP())
		return invitationGone(c, err)
	}
	if err != nil {
		return err
	}
	m, notes, err := s.store.AcceptInvitationSSO(c.Request().Context(), auth.HashLinkToken(token), email, subject, desired, actor)
	switch model.ErrorCode(err) {
	case "":
	case model.ENOTFOUND:
		return invitationGone(c, err)
	case model.EFORBIDDEN, model.ECONFLICT:
		status := http.StatusForbidden
		if model.ErrorCode(err) == model.ECONFLICT {
			status = http.StatusConflict
		}
		s.logger(c).Warn("invitation refused after single sign-on", "team_id", inv.TeamID, "ip", c.RealIP(), "reason", model.ErrorMessage(err))
		props.Notice = &views.Flash{Kind: "error", Message: model.ErrorMessage(err)}
		return render(c, status, views.InvitationPage(props))
	default:
		return err
	}
	for _, n := range notes {
		s.logger(c).Warn("single sign-on roles", "note", n, "user_id", m.UserID)
	}
	s.acc.hasUsers.Store(true)
	s.logger(c).Info("invitation accepted", "team_id", m.TeamID, "membership_id", m.ID, "single_sign_on", true)
	return s.finishSignIn(c, m.User, m.TeamID, "/", "Welcome to "+inv.Team.Name+". You joined as "+m.Role.Label()+".")
}
