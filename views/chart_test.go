package views

import (
	"bytes"
	"context"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/a-h/templ"
	"golang.org/x/net/html"

	"github.com/keyward/keyward/internal/model"
)

func onDay(s string) time.Time {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		panic(err)
	}
	return t
}

func daySeries(first string, counts ...int64) []DayCount {
	d := onDay(first)
	out := make([]DayCount, len(counts))
	for i, n := range counts {
		out[i] = DayCount{Day: d.AddDate(0, 0, i), Requests: n}
	}
	return out
}

func TestBarLayout(t *testing.T) {
	// 4 slots of 25 units in a plot 100 wide and 50 high at (10, 5): bars
	// stand on y = 55; a bar is 20 wide with a gap of 0.2.
	l := BarLayout{Slots: 4, X: 10, Y: 5, W: 100, H: 50, Gap: 0.2, ZeroH: 2, MinH: 1}
	type bar struct {
		X, Y, W, H float64
		Zero       bool
	}
	tests := []struct {
		name string
		days []DayCount
		top  int64
		want []bar
	}{
		{
			name: "scaled to the top of the scale",
			days: daySeries("2026-05-01", 10, 5, 0, 20),
			top:  20,
			want: []bar{{12.5, 30, 20, 25, false}, {37.5, 42.5, 20, 12.5, false}, {62.5, 53, 20, 2, true}, {87.5, 5, 20, 50, false}},
		},
		{
			name: "a round top above the busiest day",
			days: daySeries("2026-05-01", 10, 5, 0, 20),
			top:  50,
			want: []bar{{12.5, 45, 20, 10, false}, {37.5, 50, 20, 5, false}, {62.5, 53, 20, 2, true}, {87.5, 35, 20, 20, false}},
		},
		{
			name: "a top below the busiest day is raised to it",
			days: daySeries("2026-05-01", 40),
			top:  10,
			want: []bar{{87.5, 5, 20, 50, false}},
		},
		{
			name: "every day zero",
			days: daySeries("2026-05-01", 0, 0, 0, 0),
			want: []bar{{12.5, 53, 20, 2, true}, {37.5, 53, 20, 2, true}, {62.5, 53, 20, 2, true}, {87.5, 53, 20, 2, true}},
		},
		{
			name: "a key created today: one day, at the right edge",
			days: daySeries("2026-05-04", 3),
			want: []bar{{87.5, 5, 20, 50, false}},
		},
		{
			name: "a short series takes the rightmost slots",
			days: daySeries("2026-05-03", 0, 1),
			want: []bar{{62.5, 53, 20, 2, true}, {87.5, 5, 20, 50, false}},
		},
		{
			name: "one request among thousands still shows",
			days: daySeries("2026-05-01", 1, 10000),
			want: []bar{{62.5, 54, 20, 1, false}, {87.5, 5, 20, 50, false}},
		},
		{
			name: "a long series shows its last days",
			days: daySeries("2026-04-29", 9, 9, 1, 2, 3, 4),
			top:  4,
			want: []bar{{12.5, 42.5, 20, 12.5, false}, {37.5, 30, 20, 25, false}, {62.5, 17.5, 20, 37.5, false}, {87.5, 5, 20, 50, false}},
		},
		{name: "no days", days: nil, want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := l.Bars(tt.days, tt.top)
			var g []bar
			for _, b := range got {
				g = append(g, bar{b.X, b.Y, b.W, b.H, b.Zero})
			}
			if !slices.Equal(g, tt.want) {
				t.Fatalf("bars\n got %v\nwant %v", g, tt.want)
			}
			if len(tt.days) > 0 && len(got) > 0 && !got[len(got)-1].Day.Equal(tt.days[len(tt.days)-1].Day) {
				t.Fatalf("the last bar is %v, want the last day", got[len(got)-1].Day)
			}
		})
	}
}

func TestDailySeries(t *testing.T) {
	usage := []model.UsageDay{
		{Day: onDay("2026-04-28"), Requests: 99}, // before the range
		{Day: onDay("2026-05-01"), Requests: 4},
		{Day: onDay("2026-05-03"), Requests: 7, Refused: 2},
		{Day: onDay("2026-05-05"), Requests: 99}, // after
	}
	got := DailySeries(usage, onDay("2026-04-30").Add(13*time.Hour), onDay("2026-05-04").Add(23*time.Hour))
	if want := daySeries("2026-04-30", 0, 4, 0, 7, 0); !slices.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	if got := DailySeries(usage, onDay("2026-05-03"), onDay("2026-05-03")); !slices.Equal(got, daySeries("2026-05-03", 7)) {
		t.Fatalf("one day: %v", got)
	}
	if got := DailySeries(usage, onDay("2026-05-03"), onDay("2026-05-02")); got != nil {
		t.Fatalf("an empty range: %v", got)
	}
}

func TestSeriesStart(t *testing.T) {
	today := onDay("2026-05-30").Add(15 * time.Hour)
	tests := []struct {
		created time.Time
		slots   int
		want    string
	}{
		{onDay("2026-01-01"), 30, "2026-05-01"},
		{onDay("2026-05-01"), 30, "2026-05-01"},
		{onDay("2026-05-20").Add(20 * time.Hour), 30, "2026-05-20"},
		{today.Add(-time.Hour), 30, "2026-05-30"},
		{onDay("2026-01-01"), 14, "2026-05-17"},
	}
	for _, tt := range tests {
		if got := SeriesStart(tt.created, today, tt.slots); !got.Equal(onDay(tt.want)) {
			t.Errorf("SeriesStart(%v, %d) = %v, want %s", tt.created, tt.slots, got, tt.want)
		}
	}
}

func TestNiceCeil(t *testing.T) {
	tests := map[int64]int64{-3: 1, 0: 1, 1: 1, 2: 2, 3: 5, 5: 5, 6: 10, 10: 10, 11: 20, 37: 50, 312: 500, 501: 1000, 1_000_001: 2_000_000}
	for n, want := range tests {
		if got := NiceCeil(n); got != want {
			t.Errorf("NiceCeil(%d) = %d, want %d", n, got, want)
		}
	}
}

func TestUsageChartSummary(t *testing.T) {
	full := make([]int64, 30)
	full[13], full[20], full[29] = 312, 880, 12
	tests := []struct {
		name string
		c    UsageChart
		want string
	}{
		{"30 days", UsageChart{Slots: 30, Days: daySeries("2026-03-01", full...)}, "1,204 requests in the last 30 days; busiest day Mar 21 (880)."},
		{"nothing", UsageChart{Slots: 30, Days: daySeries("2026-03-01", make([]int64, 30)...)}, "No requests in the last 30 days."},
		{"created today", UsageChart{Slots: 30, Days: daySeries("2026-03-30", 1)}, "1 request today."},
		{"created today, unused", UsageChart{Slots: 30, Days: daySeries("2026-03-30", 0)}, "No requests today."},
		{"a young key", UsageChart{Slots: 30, Days: daySeries("2026-03-27", 2, 0, 2, 1)}, "5 requests since Mar 27, when it was created; busiest day Mar 29 (2)."},
	}
	for _, tt := range tests {
		if got := tt.c.Summary(); got != tt.want {
			t.Errorf("%s: %q, want %q", tt.name, got, tt.want)
		}
	}
}

// renderForTest renders a component and parses it.
func renderForTest(t *testing.T, c templ.Component) *html.Node {
	t.Helper()
	var b bytes.Buffer
	if err := c.Render(context.Background(), &b); err != nil {
		t.Fatal(err)
	}
	doc, err := html.Parse(strings.NewReader(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

func nodesByTag(n *html.Node, tag string) []*html.Node {
	var out []*html.Node
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode && n.Data == tag {
			out = append(out, n)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(n)
	return out
}

func nodeAttr(n *html.Node, name string) string {
	for _, a := range n.Attr {
		if a.Key == name {
			return a.Val
		}
	}
	return ""
}

func nodeText(n *html.Node) string {
	var b strings.Builder
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.TextNode {
			b.WriteString(n.Data)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(n)
	return b.String()
}

func TestUsageChartSVG(t *testing.T) {
	counts := make([]int64, 30)
	counts[0], counts[14], counts[29] = 5, 40, 1
	c := UsageChart{Slots: ChartDays, Days: daySeries("2026-04-01", counts...)}
	doc := renderForTest(t, UsageCard(c))

	svg := nodesByTag(doc, "svg")
	if len(svg) != 1 || nodeAttr(svg[0], "role") != "img" || nodeAttr(svg[0], "class") != "chart" {
		t.Fatalf("want one svg.chart with role=img")
	}
	if got := nodeText(nodesByTag(doc, "title")[0]); got != "Requests per day, last 30 days" {
		t.Fatalf("title %q", got)
	}
	summary := "46 requests in the last 30 days; busiest day Apr 15 (40)."
	if got := nodeText(nodesByTag(doc, "desc")[0]); got != summary {
		t.Fatalf("desc %q, want %q", got, summary)
	}
	if !strings.Contains(nodeText(doc), summary) {
		t.Fatal("the summary is not shown as text")
	}
	rects := nodesByTag(doc, "rect")
	if len(rects) != 30 {
		t.Fatalf("%d bars, want 30", len(rects))
	}
	zero := 0
	for i, r := range rects {
		wantDay := onDay("2026-04-01").AddDate(0, 0, i).Format(time.DateOnly)
		if nodeAttr(r, "data-day") != wantDay || nodeAttr(r, "data-requests") != strconv.FormatInt(counts[i], 10) {
			t.Fatalf("bar %d is %s with %s, want %s with %d", i, nodeAttr(r, "data-day"), nodeAttr(r, "data-requests"), wantDay, counts[i])
		}
		isZero := nodeAttr(r, "class") == "bar zero"
		if isZero != (counts[i] == 0) || (!isZero && nodeAttr(r, "class") != "bar") {
			t.Fatalf("bar %d (%d requests) has class %q", i, counts[i], nodeAttr(r, "class"))
		}
		if isZero {
			zero++
		}
	}
	if zero != 27 {
		t.Fatalf("%d zero bars, want 27", zero)
	}
	// The busiest day reaches the top of the round scale (50): 40/50 of 136.
	if h := nodeAttr(rects[14], "height"); h != "108.8" {
		t.Fatalf("the 40-request bar is %s high, want 108.8", h)
	}
	if got := nodeText(nodesByTag(rects[14], "title")[0]); got != "Wed, Apr 15: 40 requests" {
		t.Fatalf("bar title %q", got)
	}
	var labels []string
	for _, tx := range nodesByTag(doc, "text") {
		labels = append(labels, nodeText(tx))
	}
	if want := []string{"50", "25", "0", "Apr 1", "Today"}; !slices.Equal(labels, want) {
		t.Fatalf("labels %q, want %q", labels, want)
	}
}

func TestUsageChartSVGCreatedToday(t *testing.T) {
	c := UsageChart{Slots: ChartDays, Days: daySeries("2026-04-30", 0)}
	doc := renderForTest(t, UsageChartSVG(c))
	rects := nodesByTag(doc, "rect")
	if len(rects) != 1 || nodeAttr(rects[0], "class") != "bar zero" || nodeAttr(rects[0], "data-day") != "2026-04-30" {
		t.Fatalf("want a single zero bar for today")
	}
	// Right-aligned: the bar ends near the plot's right edge.
	if x := nodeAttr(rects[0], "x"); x != "777.83" {
		t.Fatalf("x = %s, want 777.83 (the last slot)", x)
	}
	var labels []string
	for _, tx := range nodesByTag(doc, "text") {
		labels = append(labels, nodeText(tx))
	}
	if want := []string{"1", "0", "Today"}; !slices.Equal(labels, want) {
		t.Fatalf("labels %q, want %q", labels, want)
	}
}

func TestSparkline(t *testing.T) {
	counts := []int64{0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 0, 12, 0, 1}
	doc := renderForTest(t, Sparkline(UsageChart{Slots: SparkDays, Days: daySeries("2026-04-17", counts...)}))
	svg := nodesByTag(doc, "svg")[0]
	if nodeAttr(svg, "class") != "spark" || nodeAttr(svg, "role") != "img" {
		t.Fatal("want svg.spark with role=img")
	}
	want := "16 requests in the last 14 days; busiest day Apr 28 (12)."
	if nodeAttr(svg, "aria-label") != want || nodeText(nodesByTag(doc, "title")[0]) != want {
		t.Fatalf("label %q, want %q", nodeAttr(svg, "aria-label"), want)
	}
	rects := nodesByTag(doc, "rect")
	if len(rects) != 14 {
		t.Fatalf("%d bars, want 14", len(rects))
	}
	for i, r := range rects {
		if (nodeAttr(r, "class") == "bar zero") != (counts[i] == 0) {
			t.Fatalf("bar %d: class %q for %d requests", i, nodeAttr(r, "class"), counts[i])
		}
	}
	// The busiest day fills the height (19 units, from y=1).
	if nodeAttr(rects[11], "height") != "19" || nodeAttr(rects[11], "y") != "1" {
		t.Fatalf("busiest bar at y=%s height %s", nodeAttr(rects[11], "y"), nodeAttr(rects[11], "height"))
	}
}
