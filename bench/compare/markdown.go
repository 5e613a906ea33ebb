package compare

import (
	"fmt"
	"io"
	"strings"
)

// WriteMarkdown writes the report as one table per scenario.
func WriteMarkdown(w io.Writer, r *Report) error {
	var b strings.Builder
	mode := fmt.Sprintf("%d alternating rounds of %.0f s per scenario and target; medians, throughput spread min-max", r.Rounds, r.PerRunSec)
	if r.Quick {
		mode = fmt.Sprintf("quick: one run of %.0f s per scenario and target", r.PerRunSec)
	}
	fmt.Fprintf(&b, "# msrpbench compare\n\n%s UTC, %d CPUs, %s. Targets: %s.\n\n",
		r.At.Format("2006-01-02 15:04"), r.CPUs, mode, strings.Join(r.Targets, ", "))
	for _, n := range r.Notes {
		fmt.Fprintf(&b, "- %s\n", n)
	}
	b.WriteString("- x gnet: throughput and relay CPU per message relative to the gnet engine (CPU below 1 is cheaper).\n")
	b.WriteString("\nLatency percentiles per scenario: [latest.svg](latest.svg).\n")
	for _, s := range r.Scenarios {
		fmt.Fprintf(&b, "\n## %s: %d pairs x window %d, %d-byte bodies, %s topology\n\n", s.Name, s.Pairs, s.Window, s.BodySize, s.Topology)
		b.WriteString("| target | msgs/s | x gnet | p50 us | p99 us | p99.9 us | max us | relay CPU us/msg | x gnet | generator CPU us/msg | AUTH/s | errors |\n")
		b.WriteString("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
		for _, t := range s.Targets {
			if len(t.Runs) == 0 {
				fmt.Fprintf(&b, "| %s | failed: %s | | | | | | | | | | |\n", t.Target, strings.ReplaceAll(t.Error, "|", "/"))
				continue
			}
			tp := fmt.Sprintf("%.0f", t.MsgsPerSec)
			if len(t.Runs) > 1 {
				tp += fmt.Sprintf(" (%.0f-%.0f)", t.MsgsPerSecMin, t.MsgsPerSecMax)
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %.0f | %.0f | %.0f | %.0f | %s | %s | %.1f | %s | %s |\n",
				t.Target, tp, ratio(t.ThroughputRatio), t.P50, t.P99, t.P999, t.Max,
				num(t.RelayCPU), ratio(t.CPURatio), t.GenCPU, rate(t.AuthsPerSec), errCell(t))
		}
	}
	if r.Density != nil {
		writeDensityMarkdown(&b, r.Density)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func ratio(v float64) string {
	if v == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f", v)
}

func rate(v float64) string {
	if v == 0 {
		return "-"
	}
	return fmt.Sprintf("%.0f", v)
}

func num(v float64) string {
	if v == 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f", v)
}

// errCell sums the errors and names their kinds.
func errCell(t TargetSummary) string {
	if t.Errors == 0 {
		return "0"
	}
	kinds := map[string]int64{}
	for _, r := range t.Runs {
		for k, v := range r.Errors {
			kinds[k] += v
		}
	}
	var parts []string
	for k, v := range kinds {
		parts = append(parts, fmt.Sprintf("%s %d", k, v))
	}
	return fmt.Sprintf("%d (%s)", t.Errors, strings.Join(parts, ", "))
}
