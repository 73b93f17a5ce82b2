package web

import (
	"context"
	"time"

	"github.com/keyward/keyward/internal/model"
	"github.com/keyward/keyward/internal/store"
	"github.com/keyward/keyward/views"
)

// What the key pages show of keys' use: sparklines and refused calls for a
// page of the table, the usage chart for a details page, and the hygiene
// panel. Usage counts come from key_usage, which the batched recorder fills
// (no write per request).

// parseHygiene reads the key table's hygiene filter; unknown values are "".
func parseHygiene(v string) string {
	if store.ValidHygiene(v) {
		return v
	}
	return ""
}

// keyActivities loads, in two queries whatever the number of rows, each
// row's 14-day usage and the calls refused since it stopped working.
// selectable offers the rows' checkboxes for revoking keys together.
// rotationDays marks the rows due for rotation under the team's policy.
func (s *Server) keyActivities(ctx context.Context, teamID int64, rows []model.APIKey, now time.Time, selectable bool, rotationDays int) (map[int64]views.KeyActivity, error) {
	out := make(map[int64]views.KeyActivity, len(rows))
	if len(rows) == 0 {
		return out, nil
	}
	ids := make([]int64, len(rows))
	var stopped []int64
	for i, k := range rows {
		ids[i] = k.ID
		if k.Status(now) != model.StatusActive {
			stopped = append(stopped, k.ID)
		}
	}
	from := now.AddDate(0, 0, -(views.SparkDays - 1))
	usage, err := s.store.FindKeysUsage(ctx, ids, from, now)
	if err != nil {
		return nil, err
	}
	refused, err := s.store.FindRefusedCalls(ctx, teamID, stopped)
	if err != nil {
		return nil, err
	}
	for _, k := range rows {
		out[k.ID] = views.KeyActivity{
			Usage: views.UsageChart{Slots: views.SparkDays,
				Days: views.DailySeries(usage[k.ID], views.SeriesStart(k.CreatedAt, now, views.SparkDays), now)},
			Refused:      refusedView(refused[k.ID], k),
			Selectable:   selectable,
			RotationDue:  k.RotationDue(now, rotationDays),
			RotationDays: rotationDays,
		}
	}
	return out, nil
}

// keyRefused loads the calls a revoked or expired key refused since then,
// for its details page (none for an active key).
func (s *Server) keyRefused(ctx context.Context, k model.APIKey, now time.Time) (views.RefusedCalls, error) {
	if k.Status(now) == model.StatusActive {
		return views.RefusedCalls{}, nil
	}
	refused, err := s.store.FindRefusedCalls(ctx, k.TeamID, []int64{k.ID})
	if err != nil {
		return views.RefusedCalls{}, err
	}
	return refusedView(refused[k.ID], k), nil
}

func refusedView(r store.RefusedCalls, k model.APIKey) views.RefusedCalls {
	return views.RefusedCalls{Count: r.Count, LastAt: r.LastAt, LastIP: r.LastIP, Revoked: k.RevokedAt != nil}
}
