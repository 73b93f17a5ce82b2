package views

import (
	"math"
	"strconv"
	"time"

	"github.com/keyward/keyward/internal/model"
)

// Usage charts are server-rendered SVG: bars computed here, drawn by
// chart.templ, styled by app.css (svg.chart, svg.spark, rect.bar, .zero).

// DayCount is one UTC day's number of requests.
type DayCount struct {
	Day      time.Time
	Requests int64
}

// DailySeries lists every UTC day from first to last (inclusive) with the
// requests of usage on that day, zero where usage has none. Days of usage
// outside the range are ignored; last before first gives no days.
func DailySeries(usage []model.UsageDay, first, last time.Time) []DayCount {
	first, last = utcDay(first), utcDay(last)
	if last.Before(first) {
		return nil
	}
	byDay := make(map[time.Time]int64, len(usage))
	for _, u := range usage {
		byDay[utcDay(u.Day)] += u.Requests
	}
	var out []DayCount
	for d := first; !d.After(last); d = d.AddDate(0, 0, 1) {
		out = append(out, DayCount{Day: d, Requests: byDay[d]})
	}
	return out
}

// SeriesStart is the first day a usage series of slots days ending on
// today shows for a key created at created: slots-1 days before today, or
// the day the key was created if that is later (a key created today has a
// single day).
func SeriesStart(created, today time.Time, slots int) time.Time {
	start := utcDay(today).AddDate(0, 0, -(slots - 1))
	if c := utcDay(created); c.After(start) {
		return c
	}
	return start
}

func utcDay(t time.Time) time.Time {
	t = t.UTC()
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
}

// Bar is one day's bar, in the chart's viewBox units.
type Bar struct {
	DayCount
	X, Y, W, H float64
	// Zero marks a day without requests, drawn as a small grey bar.
	Zero bool
}

// BarLayout places a series of days in a plot area, one slot per day.
type BarLayout struct {
	// Slots is the number of days the plot's width holds. A shorter series
	// takes the rightmost slots, so the last day (today) is always at the
	// right edge; a longer one shows its last Slots days.
	Slots int
	// X, Y, W, H are the plot area; bars stand on its bottom edge, Y+H.
	X, Y, W, H float64
	// Gap is the share of a slot left empty between bars (0 to 1).
	Gap float64
	// ZeroH is the height of a zero day's bar; MinH the least height of a
	// day with requests, so that one request still shows.
	ZeroH, MinH float64
}

// Bars places days under the scale top (the count that reaches the top of
// the plot; at most the largest count is used if top is smaller).
// Coordinates are rounded to hundredths.
func (l BarLayout) Bars(days []DayCount, top int64) []Bar {
	if l.Slots <= 0 || len(days) == 0 {
		return nil
	}
	if len(days) > l.Slots {
		days = days[len(days)-l.Slots:]
	}
	top = max(top, maxRequests(days), 1)
	slot := l.W / float64(l.Slots)
	w := slot * (1 - l.Gap)
	offset := l.Slots - len(days)
	bottom := l.Y + l.H
	out := make([]Bar, len(days))
	for i, d := range days {
		b := Bar{DayCount: d, X: round2(l.X + float64(offset+i)*slot + (slot-w)/2), W: round2(w)}
		h := l.ZeroH
		if d.Requests <= 0 {
			b.Zero = true
		} else {
			h = max(l.H*float64(d.Requests)/float64(top), l.MinH)
		}
		b.H = round2(h)
		b.Y = round2(bottom - h)
		out[i] = b
	}
	return out
}

func maxRequests(days []DayCount) int64 {
	var m int64
	for _, d := range days {
		m = max(m, d.Requests)
	}
	return m
}

func round2(v float64) float64 { return math.Round(v*100) / 100 }

// NiceCeil is the smallest of 1, 2, 5, 10, 20, 50 … that is at least n: the
// top of a chart's scale, so its gridlines carry round numbers.
func NiceCeil(n int64) int64 {
	if n <= 1 {
		return 1
	}
	for p := int64(1); ; p *= 10 {
		for _, m := range []int64{1, 2, 5} {
			if m*p >= n {
				return m * p
			}
		}
		if p > math.MaxInt64/100 {
			return n
		}
	}
}

// num formats n with thousands separators: 1,204.
func num(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := n < 0
	if neg {
		s = s[1:]
	}
	var out []byte
	for i := range len(s) {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	if neg {
		return "-" + string(out)
	}
	return string(out)
}

// plural is "1 request" or "12 requests".
func plural(n int64, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return num(n) + " " + many
}

// Chart sizes, in viewBox units.
const (
	// ChartDays is how many days the details page's chart shows.
	ChartDays = 30
	// SparkDays is how many days the key table's sparklines show.
	SparkDays = 14

	chartW, chartH         = 800.0, 172.0
	chartPlotX, chartPlotY = 40.0, 8.0
	chartPlotW, chartPlotH = 760.0, 136.0
	sparkW, sparkH         = 80.0, 20.0
)

var (
	chartLayout = BarLayout{Slots: ChartDays, X: chartPlotX, Y: chartPlotY, W: chartPlotW, H: chartPlotH,
		Gap: 0.25, ZeroH: 2, MinH: 2}
	sparkLayout = BarLayout{Slots: SparkDays, X: 0, Y: 1, W: sparkW, H: sparkH - 1, Gap: 0.25, ZeroH: 1.5, MinH: 2}
)

// UsageChart is a key's requests per day, oldest first, ending today.
type UsageChart struct {
	Days []DayCount
	// Slots is how many days a full chart shows (ChartDays or SparkDays).
	Slots int
}

// Total is the number of requests of all days.
func (c UsageChart) Total() int64 {
	var n int64
	for _, d := range c.Days {
		n += d.Requests
	}
	return n
}

// Busiest is the day with the most requests (the latest of equals).
func (c UsageChart) Busiest() DayCount {
	var b DayCount
	for _, d := range c.Days {
		if d.Requests > 0 && d.Requests >= b.Requests {
			b = d
		}
	}
	return b
}

// period names the days shown: "in the last 30 days", "today", "since Mar 3".
func (c UsageChart) period() string {
	switch {
	case len(c.Days) >= c.Slots:
		return "in the last " + strconv.Itoa(c.Slots) + " days"
	case len(c.Days) == 1:
		return "today"
	case len(c.Days) == 0:
		return ""
	}
	return "since " + c.Days[0].Day.Format("Jan 2") + ", when it was created"
}

// Summary says in words what the chart shows: "1,204 requests in the last
// 30 days; busiest day Mar 14 (312)." It is the chart's accessible
// description and its caption.
func (c UsageChart) Summary() string {
	total := c.Total()
	if total == 0 {
		return "No requests " + c.period() + "."
	}
	s := plural(total, "request", "requests") + " " + c.period()
	if len(c.Days) > 1 {
		b := c.Busiest()
		s += "; busiest day " + b.Day.Format("Jan 2") + " (" + num(b.Requests) + ")"
	}
	return s + "."
}

// title is the chart's name: "Requests per day, last 30 days".
func (c UsageChart) title() string {
	return "Requests per day, last " + strconv.Itoa(c.Slots) + " days"
}

// chartBars are the details chart's bars under a round scale top.
func (c UsageChart) chartBars() []Bar { return chartLayout.Bars(c.Days, c.scaleTop()) }

// sparkBars are the sparkline's bars, scaled to its busiest day.
func (c UsageChart) sparkBars() []Bar { return sparkLayout.Bars(c.Days, 0) }

func (c UsageChart) scaleTop() int64 { return NiceCeil(maxRequests(c.Days)) }

// gridLine is a horizontal line of the chart with its label.
type gridLine struct {
	Y     float64
	Label string
}

// gridLines are the chart's scale: the top, the middle when it is a whole
// number, and zero.
func (c UsageChart) gridLines() []gridLine {
	top := c.scaleTop()
	lines := []gridLine{{Y: chartPlotY, Label: num(top)}}
	if top%2 == 0 {
		lines = append(lines, gridLine{Y: chartPlotY + chartPlotH/2, Label: num(top / 2)})
	}
	return append(lines, gridLine{Y: chartPlotY + chartPlotH, Label: "0"})
}

// firstDayLabel labels the first day under its bar unless it would crowd
// "Today" at the right edge.
func (c UsageChart) firstDayLabel() (x float64, label string, ok bool) {
	bars := c.chartBars()
	if len(bars) < 2 {
		return 0, "", false
	}
	x = bars[0].X
	if chartPlotX+chartPlotW-x < 110 {
		return 0, "", false
	}
	return x, bars[0].Day.Format("Jan 2"), true
}

// barTitle is a bar's hover text: "Mar 14: 312 requests".
func barTitle(b Bar) string {
	return b.Day.Format("Mon, Jan 2") + ": " + plural(b.Requests, "request", "requests")
}

// f2 writes a viewBox coordinate.
func f2(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }
