package load

import (
	"sort"
	"strconv"
	"time"
)

// Result is what a run measured.
type Result struct {
	Target   string `json:"target"`
	Scenario string `json:"scenario"`
	Pairs    int    `json:"pairs"`
	Window   int    `json:"window"`
	BodySize int    `json:"body_size"`
	Topology string `json:"topology"`
	// Transport is how the pairs connected: "tcp", "ws", or "wss to tcp"
	// when senders and receivers differ (empty in results from before).
	Transport string  `json:"transport,omitempty"`
	Rate      float64 `json:"rate,omitempty"`
	Sent      int64   `json:"sent"`
	Delivered int64   `json:"delivered"`
	// Errors by kind: lost, duplicate, reordered, corrupt, bad-frame,
	// unexpected, aborted, status-NNN (non-200 answers to alice),
	// report-NNN (failure REPORTs), conn-bob / conn-alice (connections
	// that failed), stalled (the run was cut short).
	Errors map[string]int64 `json:"errors,omitempty"`
	// Chunks counts SENDs that reached bob cut into chunks: legal, but a
	// relay that cuts small messages is worth knowing about.
	Chunks int64 `json:"chunks,omitempty"`
	// Seconds from the first send to the last delivery.
	Seconds    float64   `json:"seconds"`
	MsgsPerSec float64   `json:"msgs_per_sec"`
	MBPerSec   float64   `json:"mb_per_sec"`
	Latency    Latency   `json:"latency"`
	Setup      Setup     `json:"setup"`
	Relay      *Usage    `json:"relay,omitempty"`
	Generator  Usage     `json:"generator"`
	FirstError string    `json:"first_error,omitempty"`
	At         time.Time `json:"at"`
}

// Setup is the session setup phase.
type Setup struct {
	Auths       int     `json:"auths"`
	Seconds     float64 `json:"seconds"`
	AuthsPerSec float64 `json:"auths_per_sec"`
}

// Usage is a process's cost over the traffic phase.
type Usage struct {
	CPUSeconds  float64 `json:"cpu_seconds"`
	CPUPerMsgUs float64 `json:"cpu_per_msg_us"`
	// CPUShare is CPU seconds per wall second (1.0 = one core busy).
	CPUShare   float64 `json:"cpu_share"`
	RSSStartKB int64   `json:"rss_start_kb,omitempty"`
	RSSEndKB   int64   `json:"rss_end_kb,omitempty"`
	// RSSMaxKB is the highest resident memory sampled during traffic.
	RSSMaxKB int64 `json:"rss_max_kb,omitempty"`
}

// ErrorCount is the sum of all errors.
func (r *Result) ErrorCount() int64 {
	var n int64
	for _, v := range r.Errors {
		n += v
	}
	return n
}

// ErrorKinds lists the error kinds in a stable order.
func (r *Result) ErrorKinds() []string {
	k := make([]string, 0, len(r.Errors))
	for name := range r.Errors {
		k = append(k, name)
	}
	sort.Strings(k)
	return k
}

func usage(cpu time.Duration, msgs int64, wall time.Duration) Usage {
	u := Usage{CPUSeconds: cpu.Seconds()}
	if msgs > 0 {
		u.CPUPerMsgUs = float64(cpu.Microseconds()) / float64(msgs)
	}
	if wall > 0 {
		u.CPUShare = cpu.Seconds() / wall.Seconds()
	}
	return u
}

// collect merges the pairs' counts into r.
func (r *Result) collect(pairs []*pair) {
	r.Errors = map[string]int64{}
	add := func(kind string, n int64) {
		if n != 0 {
			r.Errors[kind] += n
		}
	}
	for _, p := range pairs {
		b, a := &p.bobStats, &p.aliceStats
		sent := p.sent.Load()
		r.Sent += sent
		r.Delivered += b.seq.unique
		add("lost", sent-b.seq.unique)
		add("duplicate", b.seq.duplicate)
		add("reordered", b.seq.reordered)
		add("corrupt", b.corrupt)
		add("bad-frame", b.badFrame+a.badFrame)
		add("unexpected", b.unexpected+a.unexpected)
		add("aborted", b.aborted)
		r.Chunks += b.chunks
		for code, n := range a.status {
			add("status-"+strconv.Itoa(code), n)
		}
		for code, n := range a.reports {
			add("report-"+strconv.Itoa(code), n)
		}
		for _, e := range []struct {
			kind string
			err  error
		}{{"conn-bob", b.err}, {"conn-alice", a.err}, {"conn-alice-write", a.sendErr}} {
			if e.err != nil {
				add(e.kind, 1)
				if r.FirstError == "" {
					r.FirstError = "pair " + strconv.Itoa(p.idx) + " " + e.kind + ": " + e.err.Error()
				}
			}
		}
	}
	if len(r.Errors) == 0 {
		r.Errors = nil
	}
}
