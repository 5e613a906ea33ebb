package compare

import (
	"slices"

	"github.com/msrprelay/msrprelay/bench/load"
)

// TargetSummary is one target's medians over its rounds in one scenario.
type TargetSummary struct {
	Target string `json:"target"`
	// Runs are the individual results, in round order.
	Runs  []*load.Result `json:"runs"`
	Error string         `json:"error,omitempty"`
	// NotRun says why a target with the listeners the case needs does not
	// run it (bodies over what it carries).
	NotRun string `json:"not_run,omitempty"`
	// Medians over the runs; MsgsPerSecMin/Max show the spread.
	MsgsPerSec    float64 `json:"msgs_per_sec"`
	MsgsPerSecMin float64 `json:"msgs_per_sec_min"`
	MsgsPerSecMax float64 `json:"msgs_per_sec_max"`
	P50           float64 `json:"p50_us"`
	P90           float64 `json:"p90_us"`
	P99           float64 `json:"p99_us"`
	P999          float64 `json:"p999_us"`
	Max           float64 `json:"max_us"`
	// MBPerSec is the body bytes delivered per second (median).
	MBPerSec float64 `json:"mb_per_sec"`
	// RSSStartKB and RSSMaxKB are the relay's resident memory when the
	// traffic started and its peak during it (medians; 0 unknown).
	RSSStartKB float64 `json:"relay_rss_start_kb,omitempty"`
	RSSMaxKB   float64 `json:"relay_rss_max_kb,omitempty"`
	// RelayCPU is the relay's CPU per delivered message (µs); 0 unknown.
	RelayCPU float64 `json:"relay_cpu_per_msg_us"`
	GenCPU   float64 `json:"generator_cpu_per_msg_us"`
	// AuthsPerSec is the session setup rate (0 for the forwarder: no AUTH).
	AuthsPerSec float64 `json:"auths_per_sec"`
	Errors      int64   `json:"errors"`
	// Ratios against the base target (gnet): throughput and relay CPU.
	ThroughputRatio float64 `json:"throughput_ratio,omitempty"`
	CPURatio        float64 `json:"cpu_ratio,omitempty"`
	// VsForwarder is throughput relative to the plain forwarder's.
	VsForwarder float64 `json:"vs_forwarder,omitempty"`
}

func median(runs []*load.Result, f func(*load.Result) float64) float64 {
	if len(runs) == 0 {
		return 0
	}
	v := make([]float64, len(runs))
	for i, r := range runs {
		v[i] = f(r)
	}
	slices.Sort(v)
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}

func summarize(name string, runs []*load.Result, errMsg string) TargetSummary {
	s := TargetSummary{Target: name, Runs: runs, Error: errMsg}
	if len(runs) == 0 {
		return s
	}
	s.MsgsPerSec = median(runs, func(r *load.Result) float64 { return r.MsgsPerSec })
	s.MsgsPerSecMin, s.MsgsPerSecMax = runs[0].MsgsPerSec, runs[0].MsgsPerSec
	for _, r := range runs {
		s.MsgsPerSecMin = min(s.MsgsPerSecMin, r.MsgsPerSec)
		s.MsgsPerSecMax = max(s.MsgsPerSecMax, r.MsgsPerSec)
		s.Errors += r.ErrorCount()
	}
	s.P50 = median(runs, func(r *load.Result) float64 { return float64(r.Latency.P50) })
	s.P90 = median(runs, func(r *load.Result) float64 { return float64(r.Latency.P90) })
	s.P99 = median(runs, func(r *load.Result) float64 { return float64(r.Latency.P99) })
	s.P999 = median(runs, func(r *load.Result) float64 { return float64(r.Latency.P999) })
	s.Max = median(runs, func(r *load.Result) float64 { return float64(r.Latency.Max) })
	s.MBPerSec = median(runs, func(r *load.Result) float64 { return r.MBPerSec })
	s.RSSStartKB = median(runs, func(r *load.Result) float64 {
		if r.Relay == nil {
			return 0
		}
		return float64(r.Relay.RSSStartKB)
	})
	s.RSSMaxKB = median(runs, func(r *load.Result) float64 { return float64(relayRSSMax(r)) })
	s.RelayCPU = median(runs, relayCPU)
	s.GenCPU = median(runs, func(r *load.Result) float64 { return r.Generator.CPUPerMsgUs })
	s.AuthsPerSec = median(runs, func(r *load.Result) float64 { return r.Setup.AuthsPerSec })
	return s
}

// setRatios fills the ratios against BaseTarget and the forwarder.
func setRatios(ts []TargetSummary) {
	var base, fw *TargetSummary
	for i := range ts {
		switch ts[i].Target {
		case BaseTarget:
			base = &ts[i]
		case ForwarderTarget:
			fw = &ts[i]
		}
	}
	if fw != nil && fw.MsgsPerSec > 0 {
		for i := range ts {
			ts[i].VsForwarder = ts[i].MsgsPerSec / fw.MsgsPerSec
		}
	}
	if base == nil {
		return
	}
	for i := range ts {
		if base.MsgsPerSec > 0 {
			ts[i].ThroughputRatio = ts[i].MsgsPerSec / base.MsgsPerSec
		}
		if base.RelayCPU > 0 && ts[i].RelayCPU > 0 {
			ts[i].CPURatio = ts[i].RelayCPU / base.RelayCPU
		}
	}
}
