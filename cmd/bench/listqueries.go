package main

import (
	"context"
	"fmt"
	"time"

	"github.com/keyward/keyward/internal/model"
	"github.com/keyward/keyward/internal/store"
)

// listQuery is one store call the key list page makes, timed on its own.
type listQuery struct {
	name string
	run  func(ctx context.Context) error
}

// listQueries are the store calls behind the views of the key table the
// bench times (the first page, with its counts and notices; a search; page
// 150), for the team's keys at now.
func listQueries(st *store.Store, teamID int64, now time.Time) []listQuery {
	page := func(f model.KeyFilter) func(ctx context.Context) error {
		return func(ctx context.Context) error {
			f.TeamID, f.Now, f.Limit = teamID, now, 50
			_, _, err := st.FindKeys(ctx, f)
			return err
		}
	}
	var ids, stopped []int64
	return []listQuery{
		{"FindTeamByID", func(ctx context.Context) error { _, err := st.FindTeamByID(ctx, teamID); return err }},
		{"FindKeyRows first page", func(ctx context.Context) error {
			rows, err := st.FindKeyRows(ctx, model.KeyFilter{TeamID: teamID, Now: now, Limit: 50})
			ids, stopped = ids[:0], stopped[:0]
			for _, k := range rows {
				ids = append(ids, k.ID)
				if k.Status(now) != model.StatusActive {
					stopped = append(stopped, k.ID)
				}
			}
			return err
		}},
		{"FindKeys filtered", page(model.KeyFilter{Query: "billing", Status: model.StatusActive})},
		{"FindKeyRows page 150", func(ctx context.Context) error {
			_, err := st.FindKeyRows(ctx, model.KeyFilter{TeamID: teamID, Now: now, Limit: 50, Offset: 149 * 50})
			return err
		}},
		{"CountKeys", func(ctx context.Context) error { _, err := st.CountKeys(ctx, teamID, now, 0); return err }},
		{"FindKeysUsage", func(ctx context.Context) error {
			_, err := st.FindKeysUsage(ctx, ids, now.AddDate(0, 0, -13), now)
			return err
		}},
		{"FindRefusedCalls", func(ctx context.Context) error { _, err := st.FindRefusedCalls(ctx, teamID, stopped); return err }},
		{"FindOpenLeaks", func(ctx context.Context) error { _, _, err := st.FindOpenLeaks(ctx, teamID, 5); return err }},
		{"FindEndpoints", func(ctx context.Context) error { _, err := st.FindEndpoints(ctx, teamID); return err }},
	}
}

// timeListQueries runs each of the list's store calls warm times, then n
// times, one after the other, and prints p50 and p95 of each.
func timeListQueries(ctx context.Context, st *store.Store, teamID int64, warm, n int) error {
	for _, q := range listQueries(st, teamID, time.Now().UTC()) {
		d := make([]time.Duration, 0, n)
		for i := 0; i < warm+n; i++ {
			t0 := time.Now()
			if err := q.run(ctx); err != nil {
				return fmt.Errorf("%s: %w", q.name, err)
			}
			if i >= warm {
				d = append(d, time.Since(t0))
			}
		}
		d = sortDurations(d)
		fmt.Printf("  %-22s p50 %6.2f ms  p95 %6.2f ms\n", q.name, ms(percentile(d, 0.50)), ms(percentile(d, 0.95)))
	}
	return nil
}
