package load

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// rateClient is one client of a rate run (AuthRate, Handshakes).
type rateClient interface {
	// exchange runs one exchange and reports how long it took and
	// whether it succeeded; a failure it counts itself, in rateCounts.
	exchange(ctx context.Context) (time.Duration, bool)
	close()
}

// rateCounts are a rate run's outcomes, shared by its clients: failures
// are counted by kind, kinds[i] naming failures[i] in Result.Errors.
type rateCounts struct {
	done     atomic.Int64
	kinds    []string
	failures []atomic.Int64
	firstErr atomic.Value
}

func newRateCounts(kinds ...string) *rateCounts {
	return &rateCounts{kinds: kinds, failures: make([]atomic.Int64, len(kinds))}
}

func (c *rateCounts) fail(kind int, err error) {
	c.failures[kind].Add(1)
	c.firstErr.CompareAndSwap(nil, err.Error())
}

func (c *rateCounts) failed() int64 {
	var n int64
	for i := range c.failures {
		n += c.failures[i].Load()
	}
	return n
}

// errors are the failures by kind and the first one's text; nil with
// none.
func (c *rateCounts) errors() (map[string]int64, string) {
	m := map[string]int64{}
	for i, kind := range c.kinds {
		if n := c.failures[i].Load(); n > 0 {
			m[kind] = n
		}
	}
	if len(m) == 0 {
		return nil, ""
	}
	first, _ := c.firstErr.Load().(string)
	return m, first
}

// measureRate is how many exchanges a second t completes: sc.Pairs
// clients from newClient each repeat theirs back to back for
// sc.Duration. The Result counts exchanges as messages: MsgsPerSec is
// exchanges per second, Latency the time one takes, Relay the relay's
// CPU per exchange.
func measureRate(ctx context.Context, t *Target, sc Scenario, topology string, cnt *rateCounts,
	newClient func(i int) rateClient) *Result {
	lat := newLatencyShards(sc.Pairs)
	m := startMeter(t)
	start := time.Now()
	// Exchanges under way at the deadline finish: cutting them would
	// count as failures what is only the end of the run.
	deadline := start.Add(sc.Duration)
	var wg sync.WaitGroup
	for i := range sc.Pairs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := newClient(i)
			defer c.close()
			us := make([]int64, 0, 64)
			defer func() { lat.record(i, us) }()
			for ctx.Err() == nil && time.Now().Before(deadline) {
				took, ok := c.exchange(ctx)
				if !ok {
					continue
				}
				cnt.done.Add(1)
				us = append(us, took.Microseconds())
				if len(us) == cap(us) {
					lat.record(i, us)
					us = us[:0]
				}
			}
		}()
	}
	wg.Wait()
	wall := time.Since(start)
	m.stop()
	n := cnt.done.Load()
	res := &Result{Target: t.Name, Scenario: sc.Name, Pairs: sc.Pairs, Window: 1, Topology: topology,
		Sent: n + cnt.failed(), Delivered: n, Seconds: wall.Seconds(), At: start.UTC()}
	res.MsgsPerSec = float64(n) / wall.Seconds()
	res.Latency = summarize(lat.merged())
	res.Generator = m.generator(n, wall)
	res.Relay = m.relay(n, wall)
	res.Errors, res.FirstError = cnt.errors()
	return res
}
