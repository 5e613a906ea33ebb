package load

import (
	"sync"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// Latencies are recorded in microseconds, 1 µs .. 60 s, 3 significant
// digits.
const (
	latMin    = 1
	latMax    = 60_000_000
	latDigits = 3
)

// latencyShards spreads receivers over a few locked histograms: one
// histogram per pair would cost ~140 KB each, too much for 1000 pairs, and
// one shared histogram would make every receiver contend for its lock.
type latencyShards struct {
	shards []latencyShard
}

type latencyShard struct {
	mu sync.Mutex
	h  *hdrhistogram.Histogram
	_  [40]byte // keep neighbouring locks off one cache line
}

func newLatencyShards(n int) *latencyShards {
	s := &latencyShards{shards: make([]latencyShard, n)}
	for i := range s.shards {
		s.shards[i].h = hdrhistogram.New(latMin, latMax, latDigits)
	}
	return s
}

// record adds the latencies (µs) a receiver collected; it allocates nothing.
func (s *latencyShards) record(pair int, us []int64) {
	sh := &s.shards[pair%len(s.shards)]
	sh.mu.Lock()
	for _, v := range us {
		_ = sh.h.RecordValue(min(max(v, latMin), latMax))
	}
	sh.mu.Unlock()
}

func (s *latencyShards) merged() *hdrhistogram.Histogram {
	h := hdrhistogram.New(latMin, latMax, latDigits)
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		h.Merge(sh.h)
		sh.mu.Unlock()
	}
	return h
}

// Latency is a summary in microseconds.
type Latency struct {
	Count int64   `json:"count"`
	Mean  float64 `json:"mean_us"`
	P50   int64   `json:"p50_us"`
	P90   int64   `json:"p90_us"`
	P99   int64   `json:"p99_us"`
	P999  int64   `json:"p999_us"`
	Max   int64   `json:"max_us"`
}

func summarize(h *hdrhistogram.Histogram) Latency {
	return Latency{
		Count: h.TotalCount(),
		Mean:  h.Mean(),
		P50:   h.ValueAtQuantile(50),
		P90:   h.ValueAtQuantile(90),
		P99:   h.ValueAtQuantile(99),
		P999:  h.ValueAtQuantile(99.9),
		Max:   h.Max(),
	}
}
