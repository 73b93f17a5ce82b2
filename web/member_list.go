package web

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/keyward/keyward/internal/model"
	"github.com/keyward/keyward/views"
)

// handleMembers serves GET /settings/members: the team's members and roles.
func (s *Server) handleMembers(c echo.Context) error {
	props, err := s.membersProps(c)
	if err != nil {
		return err
	}
	return render(c, http.StatusOK, views.MembersPage(props))
}

// membersProps reads the current team's members for the page.
func (s *Server) membersProps(c echo.Context) (views.MembersProps, error) {
	p := currentPrincipal(c)
	ms, err := s.store.FindMembers(c.Request().Context(), p.Membership.TeamID)
	if err != nil {
		return views.MembersProps{}, err
	}
	props := views.MembersProps{
		Chrome:        s.chrome(c, "members"),
		Now:           s.now(),
		CanGrantOwner: p.Membership.Role == model.RoleOwner,
		Add:           views.MemberAddForm{Role: model.RoleMember},
	}
	for _, m := range ms {
		props.Members = append(props.Members, memberRow(p, m))
	}
	invs, err := s.store.FindOpenInvitations(c.Request().Context(), p.Membership.TeamID)
	if err != nil {
		return views.MembersProps{}, err
	}
	for _, inv := range invs {
		props.Invitations = append(props.Invitations, views.InvitationRow{
			ID: inv.ID, Email: inv.Email, Role: inv.Role, InvitedBy: inv.InvitedBy,
			Created: inv.CreatedAt, Expires: inv.ExpiresAt, Expired: !props.Now.Before(inv.ExpiresAt),
		})
	}
	return props, nil
}

func memberRow(p *principal, m model.Membership) views.MemberRow {
	return views.MemberRow{
		ID: m.ID, Email: m.User.Email, Role: m.Role, Joined: m.CreatedAt,
		IsYou:   m.UserID == p.User.ID,
		CanEdit: p.Membership.Role == model.RoleOwner || m.Role != model.RoleOwner,
		SignIn:  signInLabel(m.SignInMethods),
	}
}

// signInLabel says how a user signs in, for the Members page.
func signInLabel(methods []string) string {
	var parts []string
	for _, m := range methods {
		switch m {
		case model.SignInPassword:
			parts = append(parts, "Password")
		case model.SignInSSO:
			parts = append(parts, "Single sign-on")
		}
	}
	return strings.Join(parts, " and ")
}

// findMember returns the current team's membership named by the :id
// parameter. Another team's id, or a malformed one, is ENOTFOUND.
func (s *Server) findMember(c echo.Context) (model.Membership, error) {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil || id <= 0 {
		return model.Membership{}, model.Errorf(model.ENOTFOUND, "Member not found.")
	}
	return s.store.FindMembershipByID(c.Request().Context(), teamID(c), id)
}

// mayManageMember returns EFORBIDDEN when the signed-in user may not change
// a member with role from, or give role to: only an OWNER grants or removes
// OWNER.
func mayManageMember(c echo.Context, from, to model.Role) error {
	if currentPrincipal(c).Membership.Role == model.RoleOwner {
		return nil
	}
	if from == model.RoleOwner {
		return model.Errorf(model.EFORBIDDEN, "Only an owner can change or remove another owner.")
	}
	if to == model.RoleOwner {
		return model.Errorf(model.EFORBIDDEN, "Only an owner can make someone an owner.")
	}
	return nil
}
