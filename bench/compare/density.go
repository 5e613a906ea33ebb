package compare

import (
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/msrprelay/msrprelay/bench/load"
	"github.com/msrprelay/msrprelay/endpoint"
)

// MaxDensity is the most idle sessions compare opens: two connections
// each plus headroom must stay under a 20,000 open-files hard limit, in
// the relay and in this generator alike.
const MaxDensity = 9000

// densityActivePairs and densityActiveFor are the load run alongside the
// idle sessions when Options.DensityActive is set.
const (
	densityActivePairs = 100
	densityActiveFor   = 3 * time.Second
)

// DensityReport is the idle-density section of a comparison.
type DensityReport struct {
	Sessions int `json:"sessions"`
	// Engines are the measurements, gnet first.
	Engines []*load.DensityResult `json:"engines"`
	// Errors by engine, for one that could not be measured at all.
	Failed map[string]string `json:"failed,omitempty"`
	// Ratio is goroutine bytes per session over gnet's (0 unknown).
	Ratio float64 `json:"ratio_goroutine_gnet,omitempty"`
}

// runDensity starts a fresh relay per engine, opens o.Density idle
// sessions on it, measures, and stops it again.
func runDensity(ctx context.Context, o Options) (*DensityReport, error) {
	if o.Density > MaxDensity {
		return nil, fmt.Errorf("density %d: at most %d sessions (open-files limit)", o.Density, MaxDensity)
	}
	dir, err := os.MkdirTemp("", "msrpbench-density-")
	if err != nil {
		return nil, fmt.Errorf("temp dir: %w", err)
	}
	defer os.RemoveAll(dir)
	creds, err := writeCredentials(dir, benchUser, benchRealm, benchPassword)
	if err != nil {
		return nil, err
	}
	rep := &DensityReport{Sessions: o.Density}
	fail := func(engine string, err error) {
		o.Log("density %-10s: %v", engine, err)
		if rep.Failed == nil {
			rep.Failed = map[string]string{}
		}
		rep.Failed[engine] = err.Error()
	}
	for _, engine := range []string{"gnet", "goroutine"} {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		c, err := startMsrprelay(o.Msrprelay, engine, creds, benchRealm, nil,
			"--max-connections", strconv.Itoa(2*o.Density+200))
		if err != nil {
			fail(engine, err)
			continue
		}
		t := load.Target{Name: engine, Addrs: []string{c.addr}, RealmHost: benchHost, User: benchUser,
			Password: benchPassword, AuthForm: endpoint.FormRFC, PID: c.PID()}
		do := load.DensityOptions{Sessions: o.Density}
		if o.DensityActive {
			do.Active = &load.Scenario{Name: fmt.Sprintf("%d/1", densityActivePairs), Pairs: densityActivePairs,
				Window: 1, Duration: densityActiveFor}
			do.Baseline = true
		}
		res, err := load.Density(ctx, t, do)
		c.stop()
		if res == nil {
			fail(engine, err)
			continue
		}
		if err != nil && res.FirstError == "" {
			res.FirstError = err.Error()
		}
		o.Log("density %-10s: %d/%d sessions in %.1f s (%.0f/s), RSS %d -> %d kB, %.0f B/session, errors %d",
			engine, res.Opened, res.Sessions, res.SetupSeconds, res.SetupPerSec, res.RSSBeforeKB, res.RSSAfterKB,
			res.BytesPerSession, res.Errors)
		for _, a := range []struct {
			what string
			r    *load.Result
		}{{"with idle", res.Active}, {"without", res.Baseline}} {
			if a.r != nil {
				o.Log("density %-10s: %d active pairs %s sessions: %.0f msgs/s p50 %d p99 %d p99.9 %d us, errors %d",
					engine, a.r.Pairs, a.what, a.r.MsgsPerSec, a.r.Latency.P50, a.r.Latency.P99, a.r.Latency.P999, a.r.ErrorCount())
			}
		}
		rep.Engines = append(rep.Engines, res)
		if err := ctx.Err(); err != nil {
			return rep, err
		}
		time.Sleep(200 * time.Millisecond)
	}
	rep.setRatio()
	return rep, nil
}

// setRatio sets Ratio from the engines' bytes per idle session.
func (d *DensityReport) setRatio() {
	var g, r float64
	for _, e := range d.Engines {
		switch e.Target {
		case "gnet":
			g = e.BytesPerSession
		case "goroutine":
			r = e.BytesPerSession
		}
	}
	if g > 0 && r > 0 {
		d.Ratio = r / g
	}
}

// writeDensityMarkdown appends the idle-density section.
func writeDensityMarkdown(b *strings.Builder, d *DensityReport) {
	fmt.Fprintf(b, "\n## idle density: %d idle sessions (two connections each), fresh relay per engine\n\n", d.Sessions)
	b.WriteString("RSS of the relay alone, then 2 s after the last session was bound; per session = (after - before) / sessions opened.")
	if d.Ratio > 0 {
		fmt.Fprintf(b, " goroutine / gnet bytes per idle session: **%.2f**.", d.Ratio)
	}
	b.WriteString("\n\n| engine | opened | errors | setup s | sessions/s | RSS before kB | RSS after kB | bytes/session |\n")
	b.WriteString("|---|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, e := range d.Engines {
		fmt.Fprintf(b, "| %s | %d | %d | %.1f | %.0f | %d | %d | %.0f |\n", e.Target, e.Opened, e.Errors,
			e.SetupSeconds, e.SetupPerSec, e.RSSBeforeKB, e.RSSAfterKB, e.BytesPerSession)
	}
	for engine, err := range d.Failed {
		fmt.Fprintf(b, "| %s | failed: %s | | | | | | |\n", engine, strings.ReplaceAll(err, "|", "/"))
	}
	for _, e := range d.Engines {
		if e.FirstError != "" {
			fmt.Fprintf(b, "\n%s first error: %s\n", e.Target, strings.ReplaceAll(e.FirstError, "|", "/"))
		}
	}
	var active []*load.DensityResult
	for _, e := range d.Engines {
		if e.Active != nil || e.ActiveError != "" {
			active = append(active, e)
		}
	}
	if len(active) == 0 {
		return
	}
	fmt.Fprintf(b, "\nActive load (%d pairs x window 1, 100-byte bodies, %.0f s) with the %d idle sessions open, then on the same relay once they were closed:\n\n",
		densityActivePairs, densityActiveFor.Seconds(), d.Sessions)
	b.WriteString("| engine | idle sessions | msgs/s | p50 us | p99 us | p99.9 us | max us | errors |\n|---|---:|---:|---:|---:|---:|---:|---:|\n")
	row := func(engine string, idle int, r *load.Result, fail string) {
		switch {
		case r != nil:
			fmt.Fprintf(b, "| %s | %d | %.0f | %d | %d | %d | %d | %d |\n", engine, idle, r.MsgsPerSec, r.Latency.P50, r.Latency.P99,
				r.Latency.P999, r.Latency.Max, r.ErrorCount())
		case fail != "":
			fmt.Fprintf(b, "| %s | %d | failed: %s | | | | | |\n", engine, idle, strings.ReplaceAll(fail, "|", "/"))
		}
	}
	for _, e := range active {
		row(e.Target, e.Opened, e.Active, e.ActiveError)
		row(e.Target, 0, e.Baseline, e.BaselineError)
	}
}

// WriteDensityTable prints one density measurement for a reader.
func WriteDensityTable(w io.Writer, r *load.DensityResult) {
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "target\t%s\n", r.Target)
	fmt.Fprintf(tw, "idle sessions\t%d of %d opened in %.2f s (%.0f/s), %d errors\n", r.Opened, r.Sessions, r.SetupSeconds, r.SetupPerSec, r.Errors)
	if r.FirstError != "" {
		fmt.Fprintf(tw, "first error\t%s\n", r.FirstError)
	}
	if r.RSSAfterKB > 0 {
		fmt.Fprintf(tw, "relay RSS\t%d -> %d kB, %.0f bytes per idle session\n", r.RSSBeforeKB, r.RSSAfterKB, r.BytesPerSession)
	}
	if r.ActiveError != "" {
		fmt.Fprintf(tw, "active load\tfailed: %s\n", r.ActiveError)
	}
	if r.BaselineError != "" {
		fmt.Fprintf(tw, "baseline load\tfailed: %s\n", r.BaselineError)
	}
	tw.Flush()
	if r.Active != nil {
		fmt.Fprintln(w, "\nactive load alongside the idle sessions:")
		WriteRunTable(w, r.Active)
	}
	if r.Baseline != nil {
		fmt.Fprintln(w, "\nthe same load once the idle sessions were closed:")
		WriteRunTable(w, r.Baseline)
	}
}
