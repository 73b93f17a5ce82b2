package views

import (
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/model"
)

// A key with requests in the sparkline's days gets the sparkline under its
// last-used time; one without (never used, or idle for the whole window)
// gets none: a row of empty days would read as a stray underline.
func TestKeyLastUsedSparkline(t *testing.T) {
	now := onDay("2026-04-30").Add(9 * time.Hour)
	used := now.Add(-20 * 24 * time.Hour)
	cases := []struct {
		name   string
		last   *time.Time
		counts []int64
		bars   int
		text   string
	}{
		{"used in the window", &now, []int64{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 5}, 14, "just now"},
		{"never used", nil, make([]int64, 14), 0, "Never"},
		{"idle for the whole window", &used, make([]int64, 14), 0, "20 days ago"},
		{"created today, not used yet", nil, []int64{0}, 0, "Never"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			k := model.APIKey{LastUsedAt: tc.last}
			a := KeyActivity{Usage: UsageChart{Slots: SparkDays, Days: daySeries("2026-04-17", tc.counts...)}}
			doc := renderForTest(t, KeyLastUsed(k, now, a))
			svgs := nodesByTag(doc, "svg")
			if tc.bars == 0 {
				if len(svgs) != 0 {
					t.Fatalf("a sparkline without requests: %d svg", len(svgs))
				}
			} else if len(svgs) != 1 || len(nodesByTag(svgs[0], "rect")) != tc.bars {
				t.Fatalf("want one sparkline with %d bars, got %d svg", tc.bars, len(svgs))
			}
			if got := nodeText(nodesByTag(doc, "body")[0]); !strings.Contains(got, tc.text) {
				t.Fatalf("the cell says %q, want %q", got, tc.text)
			}
		})
	}
}
