package engine

import (
	"net/netip"
	"sync"
	"time"

	"github.com/rs/zerolog"
)

// logBurst is how many lines of one event about one source address pass
// in a second; the rest are counted, and the next line that passes says
// how many were suppressed. A peer that provokes a refusal per request
// must not flood the log, nor push other lines out of its writer.
const logBurst = 5

// maxLogKeys bounds the limiter's table: beyond it, sources share one
// entry per event.
const maxLogKeys = 10000

type logKey struct {
	event string
	src   netip.Addr
}

type logCount struct {
	second     int64
	n          int
	suppressed int
}

// logLimiter counts lines per (event, source) and second.
type logLimiter struct {
	mu sync.Mutex
	m  map[logKey]*logCount
}

// allow reports whether a line may be written now, and how many were
// suppressed before it since the last one that was.
func (l *logLimiter) allow(event string, src netip.Addr, now int64) (ok bool, suppressed int) {
	sec := now / int64(time.Second)
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.m == nil {
		l.m = make(map[logKey]*logCount)
	}
	k := logKey{event, src}
	if len(l.m) >= maxLogKeys {
		k.src = netip.Addr{}
	}
	c := l.m[k]
	if c == nil {
		c = &logCount{second: sec}
		l.m[k] = c
	}
	if c.second != sec {
		c.second, c.n = sec, 0
	}
	if c.n >= logBurst {
		c.suppressed++
		return false, 0
	}
	c.n++
	suppressed, c.suppressed = c.suppressed, 0
	return true, suppressed
}

// expire forgets the entries of past seconds with nothing suppressed.
func (l *logLimiter) expire(now int64) {
	sec := now / int64(time.Second)
	l.mu.Lock()
	for k, c := range l.m {
		if c.second < sec-1 && c.suppressed == 0 {
			delete(l.m, k)
		}
	}
	l.mu.Unlock()
}

// Note starts a rate-limited log line about c for event (its message),
// or returns nil (on which every zerolog call is a no-op) when the level
// is off or the line is suppressed. End it with Send.
func (c *Conn) Note(level zerolog.Level, event string) *zerolog.Event {
	return c.relay.note(level, event, c.remote, c)
}

// Note is Conn.Note for an event before there is a connection (a failed
// TLS handshake): the line carries the remote address.
func (r *Relay) Note(level zerolog.Level, event string, remote netip.AddrPort) *zerolog.Event {
	return r.note(level, event, remote, nil)
}

func (r *Relay) note(level zerolog.Level, event string, remote netip.AddrPort, c *Conn) *zerolog.Event {
	if level < r.log.GetLevel() || level < zerolog.GlobalLevel() {
		return nil
	}
	ok, suppressed := r.logs.allow(event, remote.Addr(), r.now())
	if !ok {
		r.cfg.Metrics.Add(LogsSuppressed, 1)
		return nil
	}
	var e *zerolog.Event
	if c != nil {
		e = c.logAt(level)
	} else if e = r.log.WithLevel(level); e != nil {
		e = e.Stringer("remote", remote)
	}
	if e == nil {
		return nil
	}
	e = e.Str(zerolog.MessageFieldName, event)
	if suppressed > 0 {
		e = e.Int("suppressed_before", suppressed)
	}
	return e
}
