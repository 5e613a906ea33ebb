package compare

import (
	"fmt"
	"io"
	"math"
	"strings"
)

// svgColors are the targets' line colours, in target order.
var svgColors = []string{"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd"}

// WriteSVG draws one panel per scenario: each target's latency at p50,
// p90, p99, p99.9 and max, on a log scale. Hand-written SVG, no
// plotting dependency.
func WriteSVG(w io.Writer, r *Report) error {
	const (
		panelW, panelH = 300, 220
		padL, padB     = 50, 30
		cols           = 3
	)
	rows := (len(r.Scenarios) + cols - 1) / cols
	width, height := cols*panelW+20, rows*panelH+60
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="10">`+"\n", width, height)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="white"/><text x="10" y="16" font-size="13">msrpbench latency percentiles (us, log scale), %s</text>`+"\n", r.At.Format("2006-01-02 15:04"))
	for i, name := range r.Targets {
		fmt.Fprintf(&b, `<rect x="%d" y="26" width="10" height="10" fill="%s"/><text x="%d" y="35">%s</text>`+"\n", 10+i*110, svgColors[i%len(svgColors)], 24+i*110, esc(name))
	}
	labels := []string{"p50", "p90", "p99", "p99.9", "max"}
	for si, s := range r.Scenarios {
		ox, oy := 10+(si%cols)*panelW, 50+(si/cols)*panelH
		x0, y0 := ox+padL, oy+panelH-padB
		pw, ph := panelW-padL-20, panelH-padB-25
		lo, hi := 1.0, 10.0
		for _, t := range s.Targets {
			for _, v := range []float64{t.P50, t.Max} {
				if v > 0 {
					lo, hi = math.Min(lo, v), math.Max(hi, v)
				}
			}
		}
		lo = math.Pow(10, math.Floor(math.Log10(lo)))
		hi = math.Pow(10, math.Ceil(math.Log10(hi)))
		y := func(v float64) float64 {
			v = math.Max(v, lo)
			return float64(y0) - (math.Log10(v)-math.Log10(lo))/(math.Log10(hi)-math.Log10(lo))*float64(ph)
		}
		x := func(k int) float64 { return float64(x0) + float64(k)*float64(pw)/float64(len(labels)-1) }
		fmt.Fprintf(&b, `<text x="%d" y="%d" font-size="12">%s</text>`+"\n", ox+padL, oy+12, esc(s.Name))
		fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="black"/><line x1="%d" y1="%d" x2="%d" y2="%d" stroke="black"/>`+"\n",
			x0, y0, x0+pw, y0, x0, y0, x0, y0-ph)
		for d := lo; d <= hi*1.001; d *= 10 {
			fmt.Fprintf(&b, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#ddd"/><text x="%d" y="%.1f" text-anchor="end">%s</text>`+"\n",
				x0, y(d), x0+pw, y(d), x0-4, y(d)+3, decade(d))
		}
		for k, l := range labels {
			fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle">%s</text>`+"\n", x(k), y0+14, l)
		}
		for ti, t := range s.Targets {
			if len(t.Runs) == 0 {
				continue
			}
			var pts []string
			for k, v := range []float64{t.P50, t.P90, t.P99, t.P999, t.Max} {
				pts = append(pts, fmt.Sprintf("%.1f,%.1f", x(k), y(v)))
			}
			fmt.Fprintf(&b, `<polyline fill="none" stroke-width="2" stroke="%s" points="%s"/>`+"\n", svgColors[ti%len(svgColors)], strings.Join(pts, " "))
		}
	}
	b.WriteString("</svg>\n")
	_, err := io.WriteString(w, b.String())
	return err
}

func decade(v float64) string {
	switch {
	case v >= 1e6:
		return fmt.Sprintf("%.0fs", v/1e6)
	case v >= 1e3:
		return fmt.Sprintf("%.0fms", v/1e3)
	}
	return fmt.Sprintf("%.0fus", v)
}

func esc(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}
