package web

import (
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/keyward/keyward/internal/model"
	"github.com/keyward/keyward/internal/store"
	"github.com/keyward/keyward/views"
)

// keyTrailLimit is how many audit events the details page lists.
const keyTrailLimit = 100

// handleKeyShow serves GET /settings/api-keys/:id: every field of the key
// with exact times, its scopes, its requests per day over the last 30 days
// its audit trail, its restrictions with the quota left and today's
// refusals by reason. Another team's key id
// answers 404.
func (s *Server) handleKeyShow(c echo.Context) error {
	ctx := c.Request().Context()
	k, err := s.store.FindKeyByID(ctx, teamID(c), c.Param("id"))
	if err != nil {
		return err
	}
	events, err := s.store.FindKeyAuditEvents(ctx, teamID(c), k.PublicID, keyTrailLimit)
	if err != nil {
		return err
	}
	now := s.now().UTC()
	first := views.SeriesStart(k.CreatedAt, now, views.ChartDays)
	usage, err := s.store.FindKeyUsage(ctx, k.ID, first, now)
	if err != nil {
		return err
	}
	refused, err := s.keyRefused(ctx, k, now)
	if err != nil {
		return err
	}
	leaks, err := s.store.FindKeyLeaks(ctx, teamID(c), k.ID)
	if err != nil {
		return err
	}
	team, err := s.store.FindTeamByID(ctx, teamID(c))
	if err != nil {
		return err
	}
	d := views.KeyDetails{
		Key: k, Events: events, Resources: s.catalog.Resources(), Now: now, CSRF: csrfToken(c),
		Usage:   views.UsageChart{Days: views.DailySeries(usage, first, now), Slots: views.ChartDays},
		Refused: refused, Leaks: leaks, RotationDays: team.RotationDays,
	}
	today := now.Truncate(24 * time.Hour)
	for _, u := range usage {
		if u.Day.Equal(today) {
			d.RefusedToday = u.RefusedBy
		}
	}
	if k.QuotaRemaining != nil {
		// What the database holds, plus what this instance leased and has
		// not spent yet.
		d.QuotaLeft = *k.QuotaRemaining + s.verifier.QuotaLeased(k.ID)
	}
	if d.Notify, d.Endpoints, err = s.keyNotifications(c, k.PublicID); err != nil {
		return err
	}
	return render(c, http.StatusOK, views.KeyDetailsPage(s.chrome(c, "api-keys"), d))
}

// keyNotifications returns the key's latest events with their deliveries,
// and the team's endpoint URLs by id.
func (s *Server) keyNotifications(c echo.Context, publicID string) ([]views.KeyEventDeliveries, map[int64]string, error) {
	ctx := c.Request().Context()
	evs, err := s.store.FindEvents(ctx, store.EventFilter{TeamID: teamID(c), TargetID: publicID, Limit: 20})
	if err != nil {
		return nil, nil, err
	}
	ds, err := s.store.FindDeliveries(ctx, store.DeliveryFilter{TeamID: teamID(c), TargetID: publicID, Limit: 200})
	if err != nil {
		return nil, nil, err
	}
	byEvent := map[int64][]model.Delivery{}
	for _, d := range ds {
		byEvent[d.EventID] = append(byEvent[d.EventID], d)
	}
	out := make([]views.KeyEventDeliveries, 0, len(evs))
	for _, ev := range evs {
		out = append(out, views.KeyEventDeliveries{Event: ev, Deliveries: byEvent[ev.ID]})
	}
	eps, err := s.store.FindEndpoints(ctx, teamID(c))
	if err != nil {
		return nil, nil, err
	}
	urls := make(map[int64]string, len(eps))
	for _, ep := range eps {
		urls[ep.ID] = ep.URL
	}
	return out, urls, nil
}
