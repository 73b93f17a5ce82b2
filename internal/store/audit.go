package store

import (
	"context"
	"strings"
	"time"

	"github.com/keyward/keyward/internal/model"
)

// AuditFilter selects a team's audit events. Zero fields do not filter.
// Listings are newest first and continue with BeforeID, so a screen, an API
// cursor and an export that walks every event all page the same way.
type AuditFilter struct {
	TeamID int64
	// Actions are action names (api_key.revoked); a name ending in ".*"
	// (member.*) takes every action with that prefix. Any of them matches.
	Actions []string
	// ActorUserID and ActorKeyID select the events of one user or key.
	ActorUserID *int64
	ActorKeyID  *int64
	// Actor matches part of the actor's label (an e-mail, or a key's name
	// and hint), case-insensitively.
	Actor string
	// TargetID is the exact id of the changed thing (a key's public id).
	TargetID string
	// Since and Until bound created_at: Since ≤ created_at < Until.
	Since, Until time.Time
	// BeforeID continues a listing after the event with that id (the last
	// one of the previous page); 0 starts with the newest.
	BeforeID int64
	// Limit defaults to 50 and is capped at MaxAuditPage.
	Limit int
}

// MaxAuditPage is the most events FindAuditEvents returns at once.
const MaxAuditPage = 1000

// FindAuditEvents returns the team's events matching f, newest first (by
// time, then id). An unknown BeforeID, or another team's, gives no events.
func (s *Store) FindAuditEvents(ctx context.Context, f AuditFilter) ([]model.AuditEvent, error) {
	if f.Limit <= 0 {
		f.Limit = 50
	}
	f.Limit = min(f.Limit, MaxAuditPage)
	q := s.db.WithContext(ctx).Where("team_id = ?", f.TeamID)
	if len(f.Actions) > 0 {
		var conds []string
		var args []any
		for _, a := range f.Actions {
			if prefix, ok := strings.CutSuffix(a, ".*"); ok {
				conds = append(conds, `action LIKE ? ESCAPE '\'`)
				args = append(args, likeEscaper.Replace(prefix)+".%")
			} else {
				conds = append(conds, "action = ?")
				args = append(args, a)
			}
		}
		q = q.Where("("+strings.Join(conds, " OR ")+")", args...)
	}
	if f.ActorUserID != nil {
		q = q.Where("actor_user_id = ?", *f.ActorUserID)
	}
	if f.ActorKeyID != nil {
		q = q.Where("actor_key_id = ?", *f.ActorKeyID)
	}
	if f.Actor != "" {
		q = q.Where(`lower(actor_label) LIKE ? ESCAPE '\'`, likePattern(f.Actor))
	}
	if f.TargetID != "" {
		q = q.Where("target_id = ?", f.TargetID)
	}
	if !f.Since.IsZero() {
		q = q.Where("created_at >= ?", f.Since.UTC())
	}
	if !f.Until.IsZero() {
		q = q.Where("created_at < ?", f.Until.UTC())
	}
	if f.BeforeID != 0 {
		q = q.Where("(created_at, id) < (SELECT created_at, id FROM audit_events WHERE id = ? AND team_id = ?)", f.BeforeID, f.TeamID)
	}
	var out []model.AuditEvent
	err := q.Order("created_at DESC, id DESC").Limit(f.Limit).Find(&out).Error
	return out, translate(err)
}

var likeEscaper = strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
