package compare

import (
	"fmt"
	"io"
	"math"
	"strings"
)

// svgColors are the targets' colours, in target order.
var svgColors = []string{"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd"}

// Both charts have one row per message case and one bar (or line) per
// target in it, every case on the same axis, so that a reader compares
// cases and targets at a glance. File and handshake cases have other units
// and stay in the tables.
const (
	svgLabelW = 120 // case names
	svgPlotW  = 560
	svgBarH   = 11
	svgGap    = 10 // between cases
	svgTop    = 78 // title, machine line, legend
)

// chartRows are the message cases with at least one target that ran.
func chartRows(r *Report) []ScenarioReport {
	var rows []ScenarioReport
	for _, s := range r.Scenarios {
		if s.Kind != Messages && s.Kind != "" {
			continue
		}
		for _, t := range s.Targets {
			if len(t.Runs) > 0 {
				rows = append(rows, s)
				break
			}
		}
	}
	return rows
}

// chart is an SVG being drawn: header, legend, rows of bars.
type chart struct {
	b      strings.Builder
	r      *Report
	rows   []ScenarioReport
	height int
}

func newChart(r *Report, title string) *chart {
	c := &chart{r: r, rows: chartRows(r)}
	bars := 0
	for _, s := range c.rows {
		bars += len(s.Targets)
	}
	c.height = svgTop + bars*svgBarH + len(c.rows)*svgGap + 40
	width := svgLabelW + svgPlotW + 80
	fmt.Fprintf(&c.b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="10">`+"\n", width, c.height)
	fmt.Fprintf(&c.b, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	mode := fmt.Sprintf("medians of %d rounds", r.Rounds)
	if r.Quick {
		mode = "quick: one run"
	}
	fmt.Fprintf(&c.b, `<text x="10" y="16" font-size="13">%s, %s UTC (%s)</text>`+"\n", esc(title), r.At.Format("2006-01-02 15:04"), mode)
	fmt.Fprintf(&c.b, `<text x="10" y="32">%s</text>`+"\n", esc(machineShort(r.Machine, r.CPUs)))
	for i, name := range r.Targets {
		fmt.Fprintf(&c.b, `<rect x="%d" y="42" width="10" height="10" fill="%s"/><text x="%d" y="51">%s</text>`+"\n",
			svgLabelW+i*110, svgColors[i%len(svgColors)], svgLabelW+14+i*110, esc(name))
	}
	return c
}

// machineShort is the machine line of a chart: no markup, one line.
func machineShort(m *Machine, cpus int) string {
	if m == nil {
		return fmt.Sprintf("%d CPUs; machine load not recorded", cpus)
	}
	s := fmt.Sprintf("%s, %d CPUs", m.CPUModel, m.CPUs)
	if len(m.LoadStart) == 3 {
		s += fmt.Sprintf("; 1-minute load average %.2f before the run", m.LoadStart[0])
	}
	if len(m.LoadEnd) == 3 {
		s += fmt.Sprintf(", %.2f after", m.LoadEnd[0])
	}
	if m.busy() {
		s += ": busy"
	}
	return s
}

// axis draws a vertical grid line with its label at plot x.
func (c *chart) axis(x float64, label string) {
	y0, y1 := svgTop-8, c.height-30
	fmt.Fprintf(&c.b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#ddd"/><text x="%.1f" y="%d" text-anchor="middle">%s</text>`+"\n",
		x, y0, x, y1, x, y1+12, label)
}

// each calls draw for every target of every row with the bar's top y and
// colour, after the row's label.
func (c *chart) each(draw func(t TargetSummary, y float64, color string)) {
	y := float64(svgTop)
	for _, s := range c.rows {
		h := float64(len(s.Targets) * svgBarH)
		fmt.Fprintf(&c.b, `<text x="%d" y="%.1f" text-anchor="end">%s</text>`+"\n", svgLabelW-8, y+h/2+3, esc(s.Name))
		for _, t := range s.Targets {
			if len(t.Runs) > 0 {
				draw(t, y, svgColors[targetIndex(c.r.Targets, t.Target)%len(svgColors)])
			}
			y += svgBarH
		}
		y += svgGap
	}
}

func (c *chart) finish(w io.Writer, xLabel string) error {
	fmt.Fprintf(&c.b, `<text x="%d" y="%d" text-anchor="middle">%s</text>`+"\n", svgLabelW+svgPlotW/2, c.height-4, esc(xLabel))
	c.b.WriteString("</svg>\n")
	_, err := io.WriteString(w, c.b.String())
	return err
}

func targetIndex(targets []string, name string) int {
	for i, t := range targets {
		if t == name {
			return i
		}
	}
	return len(targets)
}

// WriteThroughputSVG draws messages per second per case and target as
// bars on one linear axis.
func WriteThroughputSVG(w io.Writer, r *Report) error {
	c := newChart(r, "msrpbench throughput, messages per second")
	hi := 0.0
	for _, s := range c.rows {
		for _, t := range s.Targets {
			hi = math.Max(hi, t.MsgsPerSec)
		}
	}
	step := niceStep(hi / 5)
	hi = math.Max(step, math.Ceil(hi/step)*step)
	x := func(v float64) float64 { return svgLabelW + v/hi*svgPlotW }
	for v := 0.0; v <= hi*1.0001; v += step {
		c.axis(x(v), count(v))
	}
	c.each(func(t TargetSummary, y float64, color string) {
		fmt.Fprintf(&c.b, `<rect x="%d" y="%.1f" width="%.1f" height="%d" fill="%s"/><text x="%.1f" y="%.1f">%s</text>`+"\n",
			svgLabelW, y+1, x(t.MsgsPerSec)-svgLabelW, svgBarH-2, color, x(t.MsgsPerSec)+3, y+svgBarH-2, count(t.MsgsPerSec))
	})
	return c.finish(w, "messages per second (100-byte bodies unless the case says otherwise)")
}

// WriteLatencySVG draws each target's p50 (dot) to p99 (bar end) per
// case on one logarithmic axis.
func WriteLatencySVG(w io.Writer, r *Report) error {
	c := newChart(r, "msrpbench latency, p50 (dot) to p99 (bar end)")
	lo, hi := math.Inf(1), 0.0
	for _, s := range c.rows {
		for _, t := range s.Targets {
			if len(t.Runs) > 0 && t.P50 > 0 {
				lo, hi = math.Min(lo, t.P50), math.Max(hi, t.P99)
			}
		}
	}
	if hi == 0 {
		lo, hi = 1, 10
	}
	lo = math.Pow(10, math.Floor(math.Log10(math.Max(lo, 1))))
	hi = math.Pow(10, math.Ceil(math.Log10(math.Max(hi, lo*10))))
	x := func(v float64) float64 {
		v = math.Min(math.Max(v, lo), hi)
		return svgLabelW + (math.Log10(v)-math.Log10(lo))/(math.Log10(hi)-math.Log10(lo))*svgPlotW
	}
	for d := lo; d <= hi*1.001; d *= 10 {
		c.axis(x(d), decade(d))
	}
	c.each(func(t TargetSummary, y float64, color string) {
		mid := y + svgBarH/2.0
		fmt.Fprintf(&c.b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s" stroke-width="4"/>`+
			`<circle cx="%.1f" cy="%.1f" r="3.5" fill="white" stroke="%s" stroke-width="2"/><text x="%.1f" y="%.1f">%s / %s</text>`+"\n",
			x(t.P50), mid, x(t.P99), mid, color, x(t.P50), mid, color, x(t.P99)+4, mid+3, latency(t.P50), latency(t.P99))
	})
	return c.finish(w, "latency per message, send to delivery (log scale)")
}

// niceStep rounds v up to 1, 2 or 5 times a power of ten.
func niceStep(v float64) float64 {
	if v <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= v {
			return m * p
		}
	}
	return 10 * p
}

// count writes 152496 as 152k.
func count(v float64) string {
	switch {
	case v >= 1e6:
		return fmt.Sprintf("%.1fM", v/1e6)
	case v >= 1e3:
		return fmt.Sprintf("%.0fk", v/1e3)
	}
	return fmt.Sprintf("%.0f", v)
}

// latency writes microseconds with a unit a reader takes in at once.
func latency(us float64) string {
	switch {
	case us >= 1e6:
		return fmt.Sprintf("%.1f s", us/1e6)
	case us >= 1e4:
		return fmt.Sprintf("%.0f ms", us/1e3)
	case us >= 1e3:
		return fmt.Sprintf("%.1f ms", us/1e3)
	}
	return fmt.Sprintf("%.0f µs", us)
}

func decade(v float64) string {
	switch {
	case v >= 1e6:
		return fmt.Sprintf("%.0f s", v/1e6)
	case v >= 1e3:
		return fmt.Sprintf("%.0f ms", v/1e3)
	}
	return fmt.Sprintf("%.0f µs", v)
}

func esc(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}
