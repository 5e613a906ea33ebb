package compare

import (
	"fmt"
	"io"
	"strings"

	"github.com/msrprelay/msrprelay/bench/load"
)

// WriteMarkdown writes the report as one table per scenario.
func WriteMarkdown(w io.Writer, r *Report) error {
	var b strings.Builder
	mode := fmt.Sprintf("%d alternating rounds of %.0f s per scenario and target; medians, throughput spread min-max", r.Rounds, r.PerRunSec)
	if r.Quick {
		mode = fmt.Sprintf("quick: one run of %.0f s per scenario and target", r.PerRunSec)
	}
	fmt.Fprintf(&b, "# msrpbench compare\n\n%s UTC, %d CPUs, %s. Targets: %s.\n\n%s\n\n",
		r.At.Format("2006-01-02 15:04"), r.CPUs, mode, strings.Join(r.Targets, ", "), r.Machine.describe())
	for _, n := range r.Notes {
		fmt.Fprintf(&b, "- %s\n", n)
	}
	b.WriteString("- x gnet: throughput and relay CPU per message relative to the gnet engine (CPU below 1 is cheaper).\n")
	b.WriteString("\nCharts of the message cases, every target on one axis: [throughput](throughput.svg), [latency p50 to p99](latency.svg).\n")
	for _, s := range r.Scenarios {
		switch s.Kind {
		case File:
			writeFileCase(&b, s)
		case Handshakes:
			writeHandshakeCase(&b, s)
		default:
			writeMessageCase(&b, s)
		}
	}
	if r.Density != nil {
		writeDensityMarkdown(&b, r.Density)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func writeMessageCase(b *strings.Builder, s ScenarioReport) {
	over := ""
	switch {
	case s.Sender != "" && s.Sender == s.Receiver:
		over = " over " + transportName(s.Sender)
	case s.Sender != "":
		over = ", sender over " + transportName(s.Sender) + ", receiver over " + transportName(s.Receiver)
	case s.TLS:
		over = " over TLS"
	}
	fmt.Fprintf(b, "\n## %s: %d pairs x window %d, %d-byte bodies, %s topology%s\n\n", s.Name, s.Pairs, s.Window, s.BodySize, s.Topology, over)
	writeTable(b, s, []string{"target", "msgs/s", "x gnet", "p50 us", "p99 us", "p99.9 us", "max us",
		"relay CPU us/msg", "x gnet", "generator CPU us/msg", "AUTH/s", "errors"},
		func(t TargetSummary) []string {
			return []string{t.Target, throughput(t), ratio(t.ThroughputRatio), us(t.P50), us(t.P99), us(t.P999), us(t.Max),
				num(t.RelayCPU), ratio(t.CPURatio), fmt.Sprintf("%.1f", t.GenCPU), rate(t.AuthsPerSec), errCell(t)}
		})
}

func writeFileCase(b *strings.Builder, s ScenarioReport) {
	fmt.Fprintf(b, "\n## %s: %d MiB in %d KiB chunks, one message", s.Name, s.FileSize>>20, s.BodySize>>10)
	if s.Sender != "" {
		fmt.Fprintf(b, ", sender over %s, receiver over %s", transportName(s.Sender), transportName(s.Receiver))
	}
	if s.ReceiveRate > 0 {
		fmt.Fprintf(b, ", receiver reading %.0f MB/s", s.ReceiveRate/1e6)
	}
	b.WriteString("\n\nEvery chunk in flight at once: only TCP and the relay's flow control hold the sender back. Latency is per chunk, queueing included.\n\n")
	writeTable(b, s, []string{"target", "MB/s", "x forwarder", "chunk p50 us", "p99 us", "relay CPU us/chunk",
		"relay RSS start MB", "relay RSS peak MB", "errors"},
		func(t TargetSummary) []string {
			return []string{t.Target, us(t.MBPerSec), ratio(t.VsForwarder), us(t.P50), us(t.P99), num(t.RelayCPU),
				mb(t.RSSStartKB), mb(t.RSSMaxKB), errCell(t)}
		})
}

func writeHandshakeCase(b *strings.Builder, s ScenarioReport) {
	fmt.Fprintf(b, "\n## %s: %d clients connecting in parallel, full handshakes (no resumption)\n\n", s.Name, s.Pairs)
	writeTable(b, s, []string{"target", "handshakes/s", "x gnet", "p50 us", "p99 us", "relay CPU us/handshake",
		"x gnet", "generator CPU us/handshake", "errors"},
		func(t TargetSummary) []string {
			return []string{t.Target, throughput(t), ratio(t.ThroughputRatio), us(t.P50), us(t.P99), num(t.RelayCPU),
				ratio(t.CPURatio), fmt.Sprintf("%.1f", t.GenCPU), errCell(t)}
		})
}

// writeTable writes a markdown table of a case: a row per target, or the
// error of a target that has no results.
func writeTable(b *strings.Builder, s ScenarioReport, header []string, row func(TargetSummary) []string) {
	b.WriteString("| " + strings.Join(header, " | ") + " |\n|---" + strings.Repeat("|---:", len(header)-1) + "|\n")
	for _, t := range s.Targets {
		if t.NotRun != "" {
			fmt.Fprintf(b, "| %s | not run: %s |%s\n", t.Target, strings.ReplaceAll(t.NotRun, "|", "/"), strings.Repeat(" |", len(header)-2))
			continue
		}
		if len(t.Runs) == 0 {
			fmt.Fprintf(b, "| %s | failed: %s |%s\n", t.Target, strings.ReplaceAll(t.Error, "|", "/"), strings.Repeat(" |", len(header)-2))
			continue
		}
		b.WriteString("| " + strings.Join(row(t), " | ") + " |\n")
	}
}

// transportName names a transport in a heading.
func transportName(t load.Transport) string {
	switch t {
	case load.TransportTLS:
		return "TLS"
	case load.TransportWS:
		return "WebSocket"
	case load.TransportWSS:
		return "WebSocket over TLS"
	}
	return "TCP"
}

func us(v float64) string { return fmt.Sprintf("%.0f", v) }

func throughput(t TargetSummary) string {
	tp := fmt.Sprintf("%.0f", t.MsgsPerSec)
	if len(t.Runs) > 1 {
		tp += fmt.Sprintf(" (%.0f-%.0f)", t.MsgsPerSecMin, t.MsgsPerSecMax)
	}
	return tp
}

func mb(kb float64) string {
	if kb == 0 {
		return "-"
	}
	return fmt.Sprintf("%.0f", kb/1024)
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
