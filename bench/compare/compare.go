package compare

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"slices"
	"time"

	"github.com/msrprelay/msrprelay/bench/client"
	"github.com/msrprelay/msrprelay/bench/load"
)

// The credentials of the relays this package starts. The AUTH To-Path
// host is an address, never a name a relay could try to resolve.
const (
	benchUser     = "bench"
	benchPassword = "bench-password"
	benchRealm    = "msrpbench"
	benchHost     = "127.0.0.1"
)

// BaseTarget is the target ratios are taken against.
const BaseTarget = "gnet"

// Report is a whole comparison.
type Report struct {
	At        time.Time        `json:"at"`
	Quick     bool             `json:"quick"`
	Rounds    int              `json:"rounds"`
	PerRunSec float64          `json:"per_run_seconds"`
	CPUs      int              `json:"cpus"`
	Targets   []string         `json:"targets"`
	Scenarios []ScenarioReport `json:"scenarios"`
	Notes     []string         `json:"notes,omitempty"`
	// Density is the idle-density section, when asked for.
	Density *DensityReport `json:"density,omitempty"`
}

// ScenarioReport is every target's figures for one scenario.
type ScenarioReport struct {
	Name     string          `json:"name"`
	Pairs    int             `json:"pairs"`
	Window   int             `json:"window"`
	BodySize int             `json:"body_size"`
	Topology string          `json:"topology"`
	Targets  []TargetSummary `json:"targets"`
}

// target is one system under test while a comparison runs.
type target struct {
	load.Target
	child *child // nil for one this package did not start
}

// Compare runs every scenario against every target and summarises.
func Compare(ctx context.Context, o Options) (*Report, error) {
	o = o.withDefaults()
	targets, cleanup, err := startTargets(o)
	if err != nil {
		return nil, err
	}
	if o.Pin {
		if err := pinTargets(targets, o.RelayCPU); err != nil {
			cleanup()
			return nil, err
		}
	}
	defer cleanup()
	scens := o.scenarios()
	runs := make([][][]*load.Result, len(scens)) // scenario, target, round
	errs := make([][]string, len(scens))
	for i := range scens {
		runs[i] = make([][]*load.Result, len(targets))
		errs[i] = make([]string, len(targets))
	}
	for round := 0; round < o.Rounds; round++ {
		for si, sc := range scens {
			sc.Duration = o.PerRun
			// Alternate which target goes first so that none always runs
			// on a machine warmed (or heated) by another.
			for k := range targets {
				ti := (k + round) % len(targets)
				if err := ctx.Err(); err != nil {
					return nil, err
				}
				t := targets[ti]
				if t.child != nil {
					t.PID = t.child.pid()
				}
				res, err := load.Run(ctx, t.Target, sc)
				if err != nil {
					o.Log("%s %s round %d: %v", sc.Name, t.Name, round+1, err)
					errs[si][ti] = err.Error()
					continue
				}
				o.Log("%-12s %-10s round %d: %8.0f msgs/s  p50 %6d us  p99 %7d us  relay %5.1f us/msg  errors %d",
					sc.Name, t.Name, round+1, res.MsgsPerSec, res.Latency.P50, res.Latency.P99, relayCPU(res), res.ErrorCount())
				runs[si][ti] = append(runs[si][ti], res)
				// Let the relay tear the sessions down before the next run.
				time.Sleep(200 * time.Millisecond)
			}
		}
	}
	rep := &Report{At: time.Now().UTC(), Quick: o.Quick, Rounds: o.Rounds, PerRunSec: o.PerRun.Seconds(), CPUs: runtime.NumCPU()}
	if o.Density > 0 {
		d, err := runDensity(ctx, o)
		if err != nil {
			return nil, fmt.Errorf("density: %w", err)
		}
		rep.Density = d
	}
	for _, t := range targets {
		rep.Targets = append(rep.Targets, t.Name)
	}
	if o.Pin {
		rep.Notes = append(rep.Notes, fmt.Sprintf("Every relay was bound to CPU %d (msrprelay with --loops 1) and the load generator to another CPU (taskset-style, per thread).", o.RelayCPU))
	}
	rep.Notes = append(rep.Notes,
		"Load generator and relay share the machine's CPUs: compare ratios, not absolute figures.",
		"Relay CPU is utime+stime of the relay process over the traffic phase divided by messages delivered; the forwarder runs as a child process (msrpbench forward) so it is measured the same way.")
	for si, sc := range scens {
		sr := ScenarioReport{Name: sc.Name, Pairs: sc.Pairs, Window: max(sc.Window, 1), BodySize: sc.BodySize, Topology: sc.Topology.String()}
		for ti, t := range targets {
			sr.Targets = append(sr.Targets, summarize(t.Name, runs[si][ti], errs[si][ti]))
		}
		setRatios(sr.Targets)
		rep.Scenarios = append(rep.Scenarios, sr)
	}
	return rep, nil
}

func relayCPU(r *load.Result) float64 {
	if r.Relay == nil {
		return 0
	}
	return r.Relay.CPUPerMsgUs
}

// startTargets starts the relays this package owns and lists every
// target; cleanup stops the children and removes their files.
func startTargets(o Options) ([]*target, func(), error) {
	dir, err := os.MkdirTemp("", "msrpbench-")
	if err != nil {
		return nil, nil, fmt.Errorf("temp dir: %w", err)
	}
	var targets []*target
	cleanup := func() {
		for _, t := range targets {
			if t.child != nil {
				t.child.stop()
			}
		}
		os.RemoveAll(dir)
	}
	fail := func(err error) ([]*target, func(), error) {
		cleanup()
		return nil, nil, err
	}
	creds, err := writeCredentials(dir, benchUser, benchRealm, benchPassword)
	if err != nil {
		return fail(err)
	}
	for _, engine := range []string{"gnet", "goroutine"} {
		var extra []string
		if o.Pin {
			// A relay bound to one CPU runs one event loop: two would
			// be time-sliced by the kernel on that CPU.
			extra = append(extra, "--loops", "1")
		}
		c, err := startMsrprelay(o.Msrprelay, engine, creds, benchRealm, extra...)
		if err != nil {
			return fail(err)
		}
		targets = append(targets, &target{child: c, Target: load.Target{Name: engine, Addrs: []string{c.addr},
			RealmHost: benchHost, User: benchUser, Password: benchPassword, AuthForm: client.FormRFC}})
	}
	fw, err := startForwarder()
	if err != nil {
		return fail(err)
	}
	targets = append(targets, &target{child: fw, Target: load.Target{Name: "forwarder", Kind: load.KindForwarder, Addrs: []string{fw.addr}}})
	if o.Kamailio != "" {
		targets = append(targets, &target{Target: load.Target{Name: "kamailio", Addrs: []string{o.Kamailio},
			RealmHost: benchHost, User: benchUser, Password: "xyz123", AuthForm: client.FormURI,
			PIDs: kamailioPIDs()}})
	}
	return targets, cleanup, nil
}

// kamailioPIDs finds the running Kamailio processes (it forks workers) by
// their executable name, so that its CPU is summed over all of them.
func kamailioPIDs() []int {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var pids []int
	for _, e := range ents {
		var pid int
		if _, err := fmt.Sscan(e.Name(), &pid); err != nil {
			continue
		}
		comm, err := os.ReadFile("/proc/" + e.Name() + "/comm")
		if err == nil && string(comm) == "kamailio\n" {
			pids = append(pids, pid)
		}
	}
	slices.Sort(pids)
	return pids
}
