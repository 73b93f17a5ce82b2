package store

import (
	"context"
	"slices"
	"time"

	"github.com/keyward/keyward/internal/model"
)

// EndpointSecret is a sealed signing secret and the id of the key that
// sealed it.
type EndpointSecret struct {
	Sealed string
	KeyID  string
}

// CreateEndpoint adds a webhook endpoint to the team with the sealed secret
// and writes webhook_endpoint.created. The caller validates the URL.
func (s *Store) CreateEndpoint(ctx context.Context, ep *model.WebhookEndpoint, secret EndpointSecret, actor model.Actor) error {
	now := s.Now()
	ep.PublicID = newID("we")
	ep.Secret, ep.SecretKeyID = secret.Sealed, secret.KeyID
	ep.Enabled = true
	ep.CreatedAt, ep.UpdatedAt = now, now
	if ep.EventTypes == nil {
		ep.EventTypes = []string{}
	}
	return s.inTx(ctx, func(tx *txn) error {
		if err := tx.Create(ep).Error; err != nil {
			return err
		}
		return tx.audit(ep.TeamID, actor, model.EventEndpointCreated, ep.PublicID, ep.URL, endpointDetail(*ep))
	})
}

func endpointDetail(ep model.WebhookEndpoint) map[string]any {
	return map[string]any{"url": ep.URL, "description": ep.Description, "events": ep.EventTypes, "enabled": ep.Enabled}
}

// FindEndpoints returns the team's webhook endpoints, oldest first.
func (s *Store) FindEndpoints(ctx context.Context, teamID int64) ([]model.WebhookEndpoint, error) {
	var out []model.WebhookEndpoint
	err := s.db.WithContext(ctx).Where("team_id = ?", teamID).Order("id").Find(&out).Error
	return out, translate(err)
}

// FindEndpointByID returns the team's endpoint with that public id, or
// ENOTFOUND (also for another team's endpoint).
func (s *Store) FindEndpointByID(ctx context.Context, teamID int64, publicID string) (model.WebhookEndpoint, error) {
	var ep model.WebhookEndpoint
	err := s.db.WithContext(ctx).Where("team_id = ? AND public_id = ?", teamID, publicID).Take(&ep).Error
	if err != nil && model.ErrorCode(translate(err)) == model.ENOTFOUND {
		return ep, model.Errorf(model.ENOTFOUND, "Webhook endpoint not found.")
	}
	return ep, translate(err)
}

// EndpointUpdate holds the fields to change; nil fields stay as they are.
type EndpointUpdate struct {
	URL         *string
	Description *string
	EventTypes  []string // nil: unchanged
	Enabled     *bool
}

// UpdateEndpoint changes an endpoint and writes webhook_endpoint.updated.
// Enabling an endpoint clears its failure streak. It returns ENOTFOUND for
// another team's endpoint.
func (s *Store) UpdateEndpoint(ctx context.Context, teamID int64, publicID string, u EndpointUpdate, actor model.Actor) (model.WebhookEndpoint, error) {
	var ep model.WebhookEndpoint
	err := s.inTx(ctx, func(tx *txn) error {
		if err := tx.lockEndpoint(teamID, publicID, &ep); err != nil {
			return err
		}
		changes := map[string]any{}
		detail := map[string]any{}
		if u.URL != nil && *u.URL != ep.URL {
			detail["url"] = map[string]string{"from": ep.URL, "to": *u.URL}
			changes["url"], ep.URL = *u.URL, *u.URL
		}
		if u.Description != nil && *u.Description != ep.Description {
			detail["description"] = map[string]string{"from": ep.Description, "to": *u.Description}
			changes["description"], ep.Description = *u.Description, *u.Description
		}
		if u.EventTypes != nil && !slices.Equal(u.EventTypes, ep.EventTypes) {
			detail["events"] = map[string]any{"from": ep.EventTypes, "to": u.EventTypes}
			changes["event_types"], ep.EventTypes = jsonStrings(u.EventTypes), u.EventTypes
		}
		if u.Enabled != nil && *u.Enabled != ep.Enabled {
			detail["enabled"] = map[string]bool{"from": ep.Enabled, "to": *u.Enabled}
			changes["enabled"], ep.Enabled = *u.Enabled, *u.Enabled
			if ep.Enabled {
				changes["failing_since"], ep.FailingSince = nil, nil
				changes["disabled_reason"], ep.DisabledReason = "", ""
			}
		}
		if len(changes) == 0 {
			return nil
		}
		ep.UpdatedAt = s.Now()
		changes["updated_at"] = ep.UpdatedAt
		if err := tx.Model(&model.WebhookEndpoint{}).Where("id = ?", ep.ID).Updates(changes).Error; err != nil {
			return err
		}
		return tx.audit(teamID, actor, model.EventEndpointUpdated, ep.PublicID, ep.URL, detail)
	})
	return ep, err
}

// RotateEndpointSecret replaces the endpoint's secret with next; the current
// one stays valid (deliveries carry both signatures) for grace. It writes
// webhook_endpoint.secret_rotated and returns ENOTFOUND for another team's
// endpoint.
func (s *Store) RotateEndpointSecret(ctx context.Context, teamID int64, publicID string, next EndpointSecret, grace time.Duration, actor model.Actor) (model.WebhookEndpoint, error) {
	var ep model.WebhookEndpoint
	err := s.inTx(ctx, func(tx *txn) error {
		if err := tx.lockEndpoint(teamID, publicID, &ep); err != nil {
			return err
		}
		now := s.Now()
		until := now.Add(grace)
		ep.OldSecret, ep.OldSecretKeyID, ep.OldSecretExpiresAt = ep.Secret, ep.SecretKeyID, &until
		ep.Secret, ep.SecretKeyID, ep.UpdatedAt = next.Sealed, next.KeyID, now
		if err := tx.Model(&model.WebhookEndpoint{}).Where("id = ?", ep.ID).Updates(map[string]any{
			"old_secret": ep.OldSecret, "old_secret_key_id": ep.OldSecretKeyID, "old_secret_expires_at": until,
			"secret": ep.Secret, "secret_key_id": ep.SecretKeyID, "updated_at": now,
		}).Error; err != nil {
			return err
		}
		return tx.audit(teamID, actor, model.EventEndpointRotated, ep.PublicID, ep.URL,
			map[string]any{"old_secret_expires_at": until.UTC().Format(time.RFC3339)})
	})
	return ep, err
}

// DeleteEndpoint removes an endpoint with its deliveries and writes
// webhook_endpoint.deleted. It returns ENOTFOUND for another team's endpoint.
func (s *Store) DeleteEndpoint(ctx context.Context, teamID int64, publicID string, actor model.Actor) (model.WebhookEndpoint, error) {
	var ep model.WebhookEndpoint
	err := s.inTx(ctx, func(tx *txn) error {
		if err := tx.lockEndpoint(teamID, publicID, &ep); err != nil {
			return err
		}
		if err := tx.Where("endpoint_id = ?", ep.ID).Delete(&model.Delivery{}).Error; err != nil {
			return err
		}
		if err := tx.Where("id = ?", ep.ID).Delete(&model.WebhookEndpoint{}).Error; err != nil {
			return err
		}
		return tx.audit(teamID, actor, model.EventEndpointDeleted, ep.PublicID, ep.URL, map[string]any{"url": ep.URL})
	})
	return ep, err
}

func (t *txn) lockEndpoint(teamID int64, publicID string, ep *model.WebhookEndpoint) error {
	q := t.Where("team_id = ? AND public_id = ?", teamID, publicID)
	if t.s.dialect == Postgres {
		q = q.Clauses(forUpdate)
	}
	if err := q.Take(ep).Error; err != nil {
		if model.ErrorCode(translate(err)) == model.ENOTFOUND {
			return model.Errorf(model.ENOTFOUND, "Webhook endpoint not found.")
		}
		return err
	}
	return nil
}

// DeliveryFilter selects a team's deliveries. Zero fields do not filter.
type DeliveryFilter struct {
	TeamID     int64
	EndpointID int64
	// TargetID selects the deliveries of the events about one thing (a key).
	TargetID string
	Kind     string
	// Limit defaults to 50 and is capped at 200.
	Limit int
}

// FindDeliveries returns the team's deliveries matching f with their events,
// newest first.
func (s *Store) FindDeliveries(ctx context.Context, f DeliveryFilter) ([]model.Delivery, error) {
	if f.Limit <= 0 {
		f.Limit = 50
	}
	f.Limit = min(f.Limit, 200)
	q := s.db.WithContext(ctx).Where("team_id = ?", f.TeamID)
	if f.EndpointID != 0 {
		q = q.Where("endpoint_id = ?", f.EndpointID)
	}
	if f.Kind != "" {
		q = q.Where("kind = ?", f.Kind)
	}
	if f.TargetID != "" {
		q = q.Where("event_id IN (SELECT id FROM events WHERE team_id = ? AND target_id = ?)", f.TeamID, f.TargetID)
	}
	var out []model.Delivery
	if err := q.Order("id DESC").Limit(f.Limit).Find(&out).Error; err != nil {
		return nil, translate(err)
	}
	if len(out) == 0 {
		return out, nil
	}
	ids := make([]int64, 0, len(out))
	for _, d := range out {
		ids = append(ids, d.EventID)
	}
	var evs []model.Event
	if err := s.db.WithContext(ctx).Where("id IN ?", ids).Find(&evs).Error; err != nil {
		return nil, translate(err)
	}
	byID := make(map[int64]model.Event, len(evs))
	for _, e := range evs {
		byID[e.ID] = e
	}
	for i := range out {
		out[i].Event = byID[out[i].EventID]
	}
	return out, nil
}

// ResendDelivery queues the event of the team's delivery id again to the
// same endpoint, as a new delivery due now, and returns it. It returns
// ENOTFOUND for another team's delivery or an e-mail delivery.
func (s *Store) ResendDelivery(ctx context.Context, teamID, endpointID, deliveryID int64) (model.Delivery, error) {
	var d model.Delivery
	err := s.inTx(ctx, func(tx *txn) error {
		var old model.Delivery
		err := tx.Where("id = ? AND team_id = ? AND endpoint_id = ? AND kind = ?", deliveryID, teamID, endpointID, model.DeliveryWebhook).Take(&old).Error
		if err != nil {
			if model.ErrorCode(translate(err)) == model.ENOTFOUND {
				return model.Errorf(model.ENOTFOUND, "Delivery not found.")
			}
			return err
		}
		now := s.Now()
		d = model.Delivery{EventID: old.EventID, TeamID: teamID, EndpointID: old.EndpointID, Kind: model.DeliveryWebhook,
			Status: model.DeliveryPending, NextAttemptAt: now, CreatedAt: now}
		if err := tx.Create(&d).Error; err != nil {
			return err
		}
		tx.events++ // wake the worker
		return nil
	})
	return d, err
}

// SendTestEvent writes a webhook_endpoint.test event and a delivery of it to
// the team's endpoint only, due now. It returns ENOTFOUND for another team's
// endpoint.
func (s *Store) SendTestEvent(ctx context.Context, teamID int64, publicID string, actor model.Actor) (model.Event, error) {
	var ev model.Event
	err := s.inTx(ctx, func(tx *txn) error {
		var ep model.WebhookEndpoint
		if err := tx.lockEndpoint(teamID, publicID, &ep); err != nil {
			return err
		}
		var err error
		ev, err = tx.emit(teamID, model.EventEndpointTest, ep.PublicID, map[string]any{
			"object": "webhook_endpoint", "id": ep.PublicID, "url": ep.URL,
			"message": "This is a test event sent from keyward by " + actor.Label + ".",
		})
		if err != nil {
			return err
		}
		now := s.Now()
		id := ep.ID
		if err := tx.Model(&model.Event{}).Where("id = ?", ev.ID).Update("dispatched_at", now).Error; err != nil {
			return err
		}
		return tx.Create(&model.Delivery{EventID: ev.ID, TeamID: teamID, EndpointID: &id, Kind: model.DeliveryWebhook,
			Status: model.DeliveryPending, NextAttemptAt: now, CreatedAt: now}).Error
	})
	return ev, err
}

// ResealSecrets passes every stored endpoint secret (current and previous)
// through reseal and writes back those it changed, in one transaction. It
// returns how many secrets it rewrote.
func (s *Store) ResealSecrets(ctx context.Context, reseal func(EndpointSecret) (EndpointSecret, bool, error)) (int, error) {
	n := 0
	err := s.inTx(ctx, func(tx *txn) error {
		var eps []model.WebhookEndpoint
		q := tx.Order("id")
		if s.dialect == Postgres {
			q = q.Clauses(forUpdate)
		}
		if err := q.Find(&eps).Error; err != nil {
			return err
		}
		for _, ep := range eps {
			changes := map[string]any{}
			next, changed, err := reseal(EndpointSecret{Sealed: ep.Secret, KeyID: ep.SecretKeyID})
			if err != nil {
				return model.Wrap(model.EINVALID, err, "cannot open the secret of webhook endpoint "+ep.PublicID)
			}
			if changed {
				changes["secret"], changes["secret_key_id"] = next.Sealed, next.KeyID
			}
			if ep.OldSecret != "" {
				next, changed, err := reseal(EndpointSecret{Sealed: ep.OldSecret, KeyID: ep.OldSecretKeyID})
				if err != nil {
					return model.Wrap(model.EINVALID, err, "cannot open the previous secret of webhook endpoint "+ep.PublicID)
				}
				if changed {
					changes["old_secret"], changes["old_secret_key_id"] = next.Sealed, next.KeyID
				}
			}
			if len(changes) == 0 {
				continue
			}
			if err := tx.Model(&model.WebhookEndpoint{}).Where("id = ?", ep.ID).Updates(changes).Error; err != nil {
				return err
			}
			n += len(changes) / 2
		}
		return nil
	})
	return n, err
}

// CountSecrets returns how many endpoint secrets are stored.
func (s *Store) CountSecrets(ctx context.Context) (int64, error) {
	var n int64
	err := s.db.WithContext(ctx).Model(&model.WebhookEndpoint{}).Count(&n).Error
	return n, translate(err)
}

// RotationGrace is how long a rotated-out signing secret stays valid.
const RotationGrace = 24 * time.Hour
