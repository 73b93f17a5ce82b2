package store

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"time"

	"github.com/keyward/keyward/internal/model"
)

const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// newID returns kind + "_" + 24 base62 characters from crypto/rand.
func newID(kind string) string {
	const n = 24
	b := make([]byte, 0, len(kind)+1+n)
	b = append(b, kind...)
	b = append(b, '_')
	var buf [64]byte
	for len(b) < cap(b) {
		if _, err := rand.Read(buf[:]); err != nil {
			panic(fmt.Errorf("store: crypto/rand failed: %w", err))
		}
		for _, c := range buf {
			// 248 = 4 × 62: bytes above it would bias the alphabet.
			if c < 248 && len(b) < cap(b) {
				b = append(b, base62[c%62])
			}
		}
	}
	return string(b)
}

// emit appends an event to the outbox inside tx. data is the event's payload
// and must hold no secret. It runs in the transaction of the change it
// reports, so the event exists exactly when the change does.
func (t *txn) emit(teamID int64, typ, targetID string, data map[string]any) (model.Event, error) {
	b, err := json.Marshal(data)
	if err != nil {
		return model.Event{}, fmt.Errorf("event %s: %w", typ, err)
	}
	ev := model.Event{PublicID: newID("evt"), TeamID: teamID, Type: typ, TargetID: targetID, Payload: string(b), CreatedAt: t.s.Now()}
	if err := t.Create(&ev).Error; err != nil {
		return ev, fmt.Errorf("event %s: %w", typ, err)
	}
	t.events++
	return ev, nil
}

// auditEventData is the payload of the event an audited change implies
// (a key, member or webhook-endpoint action): the target, the actor and
// the audit detail, already marshalled.
type auditEventData struct {
	Object string          `json:"object"`
	ID     string          `json:"id"`
	Name   string          `json:"name"`
	Actor  *eventActor     `json:"actor,omitempty"`
	Detail json.RawMessage `json:"detail,omitempty"`
}

type eventActor struct {
	Type  string `json:"type"`
	Label string `json:"label"`
}

// auditEventPayload returns the JSON payload of the event for an audited
// action; detail is the audit detail as JSON (nil for none).
func auditEventPayload(action, targetID, targetName, actorLabel string, byKey bool, detail []byte) (string, error) {
	d := auditEventData{Object: objectOf(action), ID: targetID, Name: targetName, Detail: detail}
	if actorLabel != "" {
		d.Actor = &eventActor{Type: "user", Label: actorLabel}
		if byKey {
			d.Actor.Type = "api_key"
		}
	}
	b, err := json.Marshal(d)
	if err != nil {
		return "", fmt.Errorf("event %s: %w", action, err)
	}
	return string(b), nil
}

// eventsFromAudits writes, in one batch, the outbox events that a batch of
// audit events implies (the same as audit does for one).
func (t *txn) eventsFromAudits(audits []model.AuditEvent) error {
	if t.s.skipEvents {
		return nil
	}
	var evs []model.Event
	for _, a := range audits {
		if !model.IsEventType(a.Action) {
			continue
		}
		var detail []byte
		if len(a.Detail) > 0 {
			b, err := json.Marshal(a.Detail)
			if err != nil {
				return fmt.Errorf("event %s: %w", a.Action, err)
			}
			detail = b
		}
		payload, err := auditEventPayload(a.Action, a.TargetID, a.TargetName, a.ActorLabel, a.ActorKeyID != nil, detail)
		if err != nil {
			return err
		}
		evs = append(evs, model.Event{PublicID: newID("evt"), TeamID: a.TeamID, Type: a.Action, TargetID: a.TargetID,
			Payload: payload, CreatedAt: t.s.Now()})
	}
	if len(evs) == 0 {
		return nil
	}
	if err := t.CreateInBatches(&evs, 500).Error; err != nil {
		return fmt.Errorf("events: %w", err)
	}
	t.events += len(evs)
	return nil
}

func objectOf(action string) string {
	for i := 0; i < len(action); i++ {
		if action[i] == '.' {
			return action[:i]
		}
	}
	return action
}

// EmitEvent writes one event to the outbox in a transaction of its own, for
// events that report no change of keyward's data. It returns the event.
func (s *Store) EmitEvent(ctx context.Context, teamID int64, typ, targetID string, data map[string]any) (model.Event, error) {
	var ev model.Event
	err := s.inTx(ctx, func(tx *txn) error {
		var err error
		ev, err = tx.emit(teamID, typ, targetID, data)
		return err
	})
	return ev, err
}

// OnEvents registers fn to run after any transaction that wrote events
// commits; the delivery worker uses it to wake up at once.
func (s *Store) OnEvents(fn func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.onEvents = append(s.onEvents, fn)
}

func (s *Store) eventsWritten() {
	s.mu.RLock()
	fns := s.onEvents
	s.mu.RUnlock()
	for _, fn := range fns {
		fn()
	}
}

// EventFilter selects a team's events. Zero fields do not filter.
type EventFilter struct {
	TeamID   int64
	TargetID string
	Type     string
	// Limit defaults to 50 and is capped at 200.
	Limit int
}

// FindEvents returns the team's events matching f, newest first.
func (s *Store) FindEvents(ctx context.Context, f EventFilter) ([]model.Event, error) {
	if f.Limit <= 0 {
		f.Limit = 50
	}
	f.Limit = min(f.Limit, 200)
	q := s.db.WithContext(ctx).Where("team_id = ?", f.TeamID)
	if f.TargetID != "" {
		q = q.Where("target_id = ?", f.TargetID)
	}
	if f.Type != "" {
		q = q.Where("type = ?", f.Type)
	}
	var out []model.Event
	err := q.Order("created_at DESC, id DESC").Limit(f.Limit).Find(&out).Error
	return out, translate(err)
}

// DispatchEvents fans out up to limit undispatched events into deliveries:
// one per enabled endpoint of the event's team that wants its type, and one
// e-mail delivery when mailTypes holds the type. Each event is marked
// dispatched in the same transaction. On PostgreSQL concurrent callers skip
// each other's rows (FOR UPDATE SKIP LOCKED). It returns how many events it
// dispatched.
func (s *Store) DispatchEvents(ctx context.Context, limit int, mailTypes map[string]bool) (int, error) {
	n := 0
	err := s.inTx(ctx, func(tx *txn) error {
		q := tx.Where("dispatched_at IS NULL").Order("id").Limit(limit)
		if s.dialect == Postgres {
			q = q.Clauses(skipLocked)
		}
		var evs []model.Event
		if err := q.Find(&evs).Error; err != nil {
			return err
		}
		if len(evs) == 0 {
			return nil
		}
		endpoints := map[int64][]model.WebhookEndpoint{}
		now := s.Now()
		var ds []model.Delivery
		ids := make([]int64, 0, len(evs))
		for _, ev := range evs {
			ids = append(ids, ev.ID)
			if ev.Type == model.EventEndpointTest {
				continue
			}
			eps, ok := endpoints[ev.TeamID]
			if !ok {
				if err := tx.Where("team_id = ? AND enabled = ?", ev.TeamID, true).Order("id").Find(&eps).Error; err != nil {
					return err
				}
				endpoints[ev.TeamID] = eps
			}
			for _, ep := range eps {
				if ep.Wants(ev.Type) {
					id := ep.ID
					ds = append(ds, model.Delivery{EventID: ev.ID, TeamID: ev.TeamID, EndpointID: &id, Kind: model.DeliveryWebhook,
						Status: model.DeliveryPending, NextAttemptAt: now, CreatedAt: now})
				}
			}
			if mailTypes[ev.Type] {
				ds = append(ds, model.Delivery{EventID: ev.ID, TeamID: ev.TeamID, Kind: model.DeliveryEmail,
					Status: model.DeliveryPending, NextAttemptAt: now, CreatedAt: now})
			}
		}
		if len(ds) > 0 {
			if err := tx.CreateInBatches(&ds, 200).Error; err != nil {
				return err
			}
		}
		n = len(evs)
		return tx.Model(&model.Event{}).Where("id IN ?", ids).Update("dispatched_at", now).Error
	})
	return n, err
}

// ClaimDeliveries claims up to limit due deliveries and returns them with
// their events and endpoints. A claimed row's next attempt moves lease ahead
// and its attempt count goes up, so a worker that dies mid-attempt leaves it
// to be claimed again once the lease ends (at-least-once delivery). Rows of
// the endpoints in skip (those a worker already has enough in flight for)
// are left alone. On PostgreSQL concurrent claimers skip each other's rows.
func (s *Store) ClaimDeliveries(ctx context.Context, limit int, lease time.Duration, skip []int64) ([]model.DeliveryJob, error) {
	var jobs []model.DeliveryJob
	err := s.inTx(ctx, func(tx *txn) error {
		now := s.Now()
		q := tx.Model(&model.Delivery{}).Select("id").Where("status = ? AND next_attempt_at <= ?", model.DeliveryPending, now)
		if len(skip) > 0 {
			q = q.Where("(endpoint_id IS NULL OR endpoint_id NOT IN ?)", skip)
		}
		q = q.Order("next_attempt_at, id").Limit(limit)
		if s.dialect == Postgres {
			q = q.Clauses(skipLocked)
		}
		var ids []int64
		if err := q.Find(&ids).Error; err != nil {
			return err
		}
		if len(ids) == 0 {
			return nil
		}
		if err := tx.Exec("UPDATE deliveries SET next_attempt_at = ?, attempts = attempts + 1, last_attempt_at = ? WHERE id IN ?",
			now.Add(lease), now, ids).Error; err != nil {
			return err
		}
		var ds []model.Delivery
		if err := tx.Where("id IN ?", ids).Order("id").Find(&ds).Error; err != nil {
			return err
		}
		evIDs, epIDs := make([]int64, 0, len(ds)), []int64{}
		for _, d := range ds {
			evIDs = append(evIDs, d.EventID)
			if d.EndpointID != nil {
				epIDs = append(epIDs, *d.EndpointID)
			}
		}
		var evs []model.Event
		if err := tx.Where("id IN ?", evIDs).Find(&evs).Error; err != nil {
			return err
		}
		evByID := make(map[int64]model.Event, len(evs))
		for _, e := range evs {
			evByID[e.ID] = e
		}
		epByID := map[int64]model.WebhookEndpoint{}
		if len(epIDs) > 0 {
			var eps []model.WebhookEndpoint
			if err := tx.Where("id IN ?", epIDs).Find(&eps).Error; err != nil {
				return err
			}
			for _, e := range eps {
				epByID[e.ID] = e
			}
		}
		for _, d := range ds {
			j := model.DeliveryJob{Delivery: d, Event: evByID[d.EventID]}
			if d.EndpointID != nil {
				if ep, ok := epByID[*d.EndpointID]; ok {
					j.Endpoint = &ep
				}
			}
			jobs = append(jobs, j)
		}
		return nil
	})
	return jobs, err
}

// FinishDelivery records the outcome of an attempt at delivery id. Success
// ends the delivery and the endpoint's failure streak. A failure schedules
// the next attempt (r.NextAttemptAt) or, when nil, marks the delivery
// failed; an endpoint failing for longer than disableAfter is disabled and a
// webhook_endpoint.disabled event written, in the same transaction. It
// returns whether the endpoint was disabled.
func (s *Store) FinishDelivery(ctx context.Context, id int64, r model.DeliveryResult, disableAfter time.Duration) (bool, error) {
	disabled := false
	err := s.inTx(ctx, func(tx *txn) error {
		var d model.Delivery
		if err := tx.Where("id = ?", id).Take(&d).Error; err != nil {
			return err
		}
		if d.Status != model.DeliveryPending {
			// Another worker finished it after this one's lease ran out.
			return nil
		}
		now := s.Now()
		upd := map[string]any{"response_status": r.ResponseStatus, "response_ms": int(r.Duration.Milliseconds()), "last_error": truncate(r.Error, 500)}
		switch {
		case r.OK:
			upd["status"] = model.DeliverySucceeded
		case r.NextAttemptAt != nil:
			upd["next_attempt_at"] = *r.NextAttemptAt
		default:
			upd["status"] = model.DeliveryFailed
		}
		if err := tx.Model(&model.Delivery{}).Where("id = ?", id).Updates(upd).Error; err != nil {
			return err
		}
		if d.EndpointID == nil {
			return nil
		}
		var ep model.WebhookEndpoint
		if err := tx.Where("id = ?", *d.EndpointID).Take(&ep).Error; err != nil {
			return err
		}
		if r.OK {
			if ep.FailingSince != nil {
				return tx.Model(&model.WebhookEndpoint{}).Where("id = ?", ep.ID).Update("failing_since", nil).Error
			}
			return nil
		}
		if ep.FailingSince == nil {
			return tx.Model(&model.WebhookEndpoint{}).Where("id = ?", ep.ID).Update("failing_since", now).Error
		}
		if !ep.Enabled || now.Sub(*ep.FailingSince) < disableAfter {
			return nil
		}
		reason := "Every delivery failed since " + ep.FailingSince.UTC().Format(time.RFC3339) + "."
		if err := tx.Model(&model.WebhookEndpoint{}).Where("id = ?", ep.ID).
			Updates(map[string]any{"enabled": false, "disabled_reason": reason, "updated_at": now}).Error; err != nil {
			return err
		}
		disabled = true
		_, err := tx.emit(ep.TeamID, model.EventEndpointDisabled, ep.PublicID, map[string]any{
			"object": "webhook_endpoint", "id": ep.PublicID, "url": ep.URL, "description": ep.Description,
			"failing_since": ep.FailingSince.UTC().Format(time.RFC3339), "reason": reason,
		})
		return err
	})
	return disabled, err
}

// FindMailSent returns the addresses e-mail delivery id has already
// reached (see RecordMailSent).
func (s *Store) FindMailSent(ctx context.Context, deliveryID int64) (map[string]bool, error) {
	var addrs []string
	err := s.db.WithContext(ctx).Table("delivery_mail_sends").Where("delivery_id = ?", deliveryID).
		Order("address").Pluck("address", &addrs).Error
	if err != nil {
		return nil, translate(err)
	}
	out := make(map[string]bool, len(addrs))
	for _, a := range addrs {
		out[a] = true
	}
	return out, nil
}

// RecordMailSent records that e-mail delivery id reached addr, so that a
// retry of the delivery after other addresses failed leaves addr out. The
// rows go with the delivery (ON DELETE CASCADE). Recording an address again
// is not an error.
func (s *Store) RecordMailSent(ctx context.Context, deliveryID int64, addr string) error {
	return s.inTx(ctx, func(tx *txn) error {
		return tx.Exec(`INSERT INTO delivery_mail_sends (delivery_id, address, sent_at) VALUES (?, ?, ?)
			ON CONFLICT (delivery_id, address) DO NOTHING`, deliveryID, addr, s.Now()).Error
	})
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// QueueStats counts what waits in the outbox and the delivery queue.
type QueueStats struct {
	EventsPending     int64
	DeliveriesPending int64
	DeliveriesFailed  int64
}

// CountQueue returns the outbox and queue sizes, for metrics.
func (s *Store) CountQueue(ctx context.Context) (QueueStats, error) {
	var st QueueStats
	db := s.db.WithContext(ctx)
	if err := db.Model(&model.Event{}).Where("dispatched_at IS NULL").Count(&st.EventsPending).Error; err != nil {
		return st, translate(err)
	}
	if err := db.Model(&model.Delivery{}).Where("status = ?", model.DeliveryPending).Count(&st.DeliveriesPending).Error; err != nil {
		return st, translate(err)
	}
	err := db.Model(&model.Delivery{}).Where("status = ?", model.DeliveryFailed).Count(&st.DeliveriesFailed).Error
	return st, translate(err)
}

// FindRecipients returns the owners and admins of the team, with whether
// each turned reminders off.
func (s *Store) FindRecipients(ctx context.Context, teamID int64) ([]model.Recipient, error) {
	var out []model.Recipient
	err := s.db.WithContext(ctx).Table("memberships").
		Select("users.id AS user_id, users.email AS email, memberships.role AS role, users.reminders_off AS reminders_off").
		Joins("JOIN users ON users.id = memberships.user_id").
		Where("memberships.team_id = ? AND memberships.role IN ?", teamID, []string{string(model.RoleOwner), string(model.RoleAdmin)}).
		Order("users.id").Scan(&out).Error
	return out, translate(err)
}

// SetReminders turns the user's e-mailed reminders on or off.
func (s *Store) SetReminders(ctx context.Context, userID int64, on bool) error {
	res := s.db.WithContext(ctx).Model(&model.User{}).Where("id = ?", userID).Update("reminders_off", !on)
	if res.Error != nil {
		return translate(res.Error)
	}
	if res.RowsAffected == 0 {
		return model.Errorf(model.ENOTFOUND, "User not found.")
	}
	return nil
}
