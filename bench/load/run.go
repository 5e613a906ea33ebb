package load

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"time"
)

// runState is what every pair's goroutines share.
type runState struct {
	sc       Scenario
	start    time.Time
	stopSend chan struct{} // closed: senders stop
	lat      *latencyShards
	readBuf  int
}

// superviseTick is how often the run checks completion, stalls and the
// deadline; it bounds how late a run notices it is done.
const superviseTick = 5 * time.Millisecond

// rssEvery is how often the relay's resident memory is sampled during
// traffic, for its peak.
const rssEvery = 100 * time.Millisecond

// Run sets up sc.Pairs pairs on t, drives the traffic and reports. Setup
// errors fail the run; errors during traffic are counted in the Result.
func Run(ctx context.Context, t Target, sc Scenario) (*Result, error) {
	if err := t.validate(); err != nil {
		return nil, err
	}
	sc, err := sc.withDefaults()
	if err != nil {
		return nil, err
	}
	rs := &runState{
		sc:       sc,
		stopSend: make(chan struct{}),
		lat:      newLatencyShards(4 * runtime.GOMAXPROCS(0)),
		readBuf:  max(16<<10, 4*(sc.BodySize+1024)),
	}
	pairs := make([]*pair, sc.Pairs)
	for i := range pairs {
		pairs[i] = &pair{idx: i, credits: make(chan struct{}, sc.Window)}
		if sc.FileSize > 0 {
			pairs[i].quota = sc.fileChunks()
		}
		if sc.Messages > 0 {
			pairs[i].quota = sc.Messages / int64(sc.Pairs)
			if int64(i) < sc.Messages%int64(sc.Pairs) {
				pairs[i].quota++
			}
		}
	}
	defer func() {
		for _, p := range pairs {
			p.close()
		}
	}()
	d := newDialer(&t)
	setupStart := time.Now()
	if err := d.setupAll(ctx, pairs, &sc); err != nil {
		return nil, fmt.Errorf("setup: %w", err)
	}
	res := &Result{Target: t.Name, Scenario: sc.Name, Pairs: sc.Pairs, Window: sc.Window,
		BodySize: sc.BodySize, Topology: sc.Topology.String(), Transport: t.Transports(), Rate: sc.Rate, At: time.Now().UTC()}
	res.Setup.Seconds = time.Since(setupStart).Seconds()
	for _, p := range pairs {
		res.Setup.Auths += p.authsDone
	}
	if res.Setup.Seconds > 0 {
		res.Setup.AuthsPerSec = float64(res.Setup.Auths) / res.Setup.Seconds
	}
	stalled := traffic(ctx, rs, pairs, &t, res)
	res.collect(pairs)
	if stalled {
		if res.Errors == nil {
			res.Errors = map[string]int64{}
		}
		res.Errors["stalled"]++
	}
	return res, ctx.Err()
}

// traffic runs the traffic phase and fills in the measurements; it
// reports whether the run was cut short by a stall.
func traffic(ctx context.Context, rs *runState, pairs []*pair, t *Target, res *Result) (stalled bool) {
	m := startMeter(t)
	var interval time.Duration
	if rs.sc.Rate > 0 {
		interval = time.Duration(float64(len(pairs)) / rs.sc.Rate * float64(time.Second))
	}
	var wg sync.WaitGroup
	rs.start = time.Now()
	for _, p := range pairs {
		wg.Add(3)
		phase := interval * time.Duration(p.idx) / time.Duration(len(pairs))
		go func() { defer wg.Done(); p.receive(rs) }()
		go func() { defer wg.Done(); p.readAlice(rs) }()
		go func() { defer wg.Done(); p.send(rs, interval, phase) }()
	}
	var rssMax int64
	stalled = supervise(ctx, rs, pairs, func() { rssMax = max(rssMax, m.procs.rss()) })
	wall := time.Since(rs.start)
	var last time.Duration
	for _, p := range pairs {
		last = max(last, time.Duration(p.lastAt.Load()))
	}
	if last == 0 || stalled {
		last = wall
	}
	m.stop()
	for _, p := range pairs {
		p.close()
	}
	wg.Wait()

	var delivered int64
	for _, p := range pairs {
		delivered += p.delivered.Load()
	}
	res.Seconds = last.Seconds()
	if last > 0 {
		res.MsgsPerSec = float64(delivered) / last.Seconds()
		res.MBPerSec = res.MsgsPerSec * float64(rs.sc.BodySize) / 1e6
	}
	res.Latency = summarize(rs.lat.merged())
	res.Generator = m.generator(delivered, wall)
	if res.Relay = m.relay(delivered, wall); res.Relay != nil {
		res.Relay.RSSMaxKB = max(rssMax, res.Relay.RSSStartKB, res.Relay.RSSEndKB)
	}
	return stalled
}

// supervise waits until every pair is done (all sent messages delivered),
// stopping the senders at the deadline of a timed run; it gives up when
// nothing was delivered for StallTimeout. sample runs every rssEvery.
func supervise(ctx context.Context, rs *runState, pairs []*pair, sample func()) (stalled bool) {
	tick := time.NewTicker(superviseTick)
	defer tick.Stop()
	stopped := false
	stop := func() {
		if !stopped {
			close(rs.stopSend)
			stopped = true
		}
	}
	defer stop()
	var lastDelivered int64
	lastProgress := time.Now()
	nextReport := time.Second
	var nextSample time.Duration
	for {
		select {
		case <-ctx.Done():
			return false
		case <-tick.C:
		}
		elapsed := time.Since(rs.start)
		if elapsed >= nextSample {
			sample()
			nextSample = elapsed + rssEvery
		}
		if rs.sc.Messages == 0 && rs.sc.FileSize == 0 && elapsed >= rs.sc.Duration {
			stop()
		}
		done := true
		var sent, delivered int64
		for _, p := range pairs {
			s, d := p.sent.Load(), p.delivered.Load()
			sent += s
			delivered += d
			if !p.aliceDone.Load() || d < s {
				done = false
			}
		}
		if done {
			return false
		}
		now := time.Now()
		if delivered != lastDelivered {
			lastDelivered, lastProgress = delivered, now
		} else if now.Sub(lastProgress) > rs.sc.StallTimeout {
			return true
		}
		if rs.sc.Progress != nil && elapsed >= nextReport {
			nextReport += time.Second
			rs.sc.Progress(Progress{Elapsed: elapsed, Sent: sent, Delivered: delivered})
		}
	}
}
