package load

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"
)

// Handshakes measures the TLS handshakes per second a target completes:
// sc.Pairs clients each connect, complete a full handshake (no session
// resumption) and close, again and again for sc.Duration. The Result
// counts handshakes as messages: MsgsPerSec is handshakes per second,
// Latency the time from connect to a finished handshake, Relay the
// relay's CPU per handshake.
func Handshakes(ctx context.Context, t Target, sc Scenario) (*Result, error) {
	if err := t.validate(); err != nil {
		return nil, err
	}
	if t.TLS == nil {
		return nil, errors.New("handshakes need a TLS target")
	}
	if sc.Pairs <= 0 || sc.Duration <= 0 {
		return nil, errors.New("handshakes need Pairs (parallel clients) and Duration")
	}
	cfg := t.TLS.Clone()
	cfg.ClientSessionCache = nil // every handshake a full one
	t.TLS = cfg
	d := newDialer(&t)
	lat := newLatencyShards(sc.Pairs)
	procs := procSet(append([]int{t.PID}, t.PIDs...))
	if t.PID == 0 {
		procs = procs[1:]
	}
	relay0, relayErr := procs.sample()
	self0 := selfCPU()
	var done, failed atomic.Int64
	var firstErr atomic.Value
	start := time.Now()
	// Handshakes under way at the deadline finish: cutting them would
	// count as failures what is only the end of the run.
	deadline := start.Add(sc.Duration)
	var wg sync.WaitGroup
	for i := range sc.Pairs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			us := make([]int64, 0, 64)
			defer func() { lat.record(i, us) }()
			for ctx.Err() == nil && time.Now().Before(deadline) {
				t0 := time.Now()
				nc, err := d.dial(ctx, t.Addrs[i%len(t.Addrs)])
				if err != nil {
					if ctx.Err() == nil {
						failed.Add(1)
						firstErr.CompareAndSwap(nil, err.Error())
					}
					continue
				}
				us = append(us, time.Since(t0).Microseconds())
				nc.Close()
				done.Add(1)
				if len(us) == cap(us) {
					lat.record(i, us)
					us = us[:0]
				}
			}
		}()
	}
	wg.Wait()
	wall := time.Since(start)
	relay1, relayErr1 := procs.sample()
	n := done.Load()
	res := &Result{Target: t.Name, Scenario: sc.Name, Pairs: sc.Pairs, Window: 1, Topology: "handshake",
		Sent: n + failed.Load(), Delivered: n, Seconds: wall.Seconds(), At: start.UTC()}
	res.MsgsPerSec = float64(n) / wall.Seconds()
	res.Latency = summarize(lat.merged())
	res.Generator = usage(selfCPU()-self0, n, wall)
	if f := failed.Load(); f > 0 {
		res.Errors = map[string]int64{"handshake": f}
		res.FirstError, _ = firstErr.Load().(string)
	}
	if len(procs) > 0 && relayErr == nil && relayErr1 == nil {
		u := usage(relay1.cpu-relay0.cpu, n, wall)
		u.RSSStartKB, u.RSSEndKB = relay0.rssKB, relay1.rssKB
		res.Relay = &u
	}
	return res, ctx.Err()
}
