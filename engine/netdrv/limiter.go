package netdrv

import (
	"net/netip"
	"sync"
	"sync/atomic"
)

// Limiter counts connections: a cap on all of them (kept under the
// open-files limit by the daemon) and a cap per source address. The zero
// value admits everything.
type Limiter struct {
	Max       int // 0: no cap
	PerSource int // 0: no cap
	draining  atomic.Bool
	n         atomic.Int64
	mu        sync.Mutex
	bySrc     map[netip.Addr]int
}

// Admit counts a connection from src, or reports false to refuse it. A
// connection this process opens has no source: pass the zero Addr.
func (l *Limiter) Admit(src netip.Addr) bool {
	if l.draining.Load() || (l.Max > 0 && l.n.Load() >= int64(l.Max)) {
		return false
	}
	if src.IsValid() && l.PerSource > 0 {
		l.mu.Lock()
		defer l.mu.Unlock()
		if l.bySrc == nil {
			l.bySrc = make(map[netip.Addr]int)
		}
		if l.bySrc[src] >= l.PerSource {
			return false
		}
		l.bySrc[src]++
	}
	l.n.Add(1)
	return true
}

// Release uncounts a connection Admit counted.
func (l *Limiter) Release(src netip.Addr) {
	if src.IsValid() && l.PerSource > 0 {
		l.mu.Lock()
		uncount(l.bySrc, src)
		l.mu.Unlock()
	}
	l.n.Add(-1)
}

// uncount takes one from src's count, forgetting src at zero.
func uncount(bySrc map[netip.Addr]int, src netip.Addr) {
	if n := bySrc[src]; n <= 1 {
		delete(bySrc, src)
	} else {
		bySrc[src] = n - 1
	}
}

// Drain refuses every connection from now on (graceful shutdown).
func (l *Limiter) Drain() { l.draining.Store(true) }

// Count is the number of admitted connections.
func (l *Limiter) Count() int { return int(l.n.Load()) }
