package engine

import "time"

// What the core does differently for a connection from a WebSocket
// listener (RFC 7977): the driver turns bytes into WebSocket frames and
// back, but only the core knows where an MSRP frame ends (each is one
// WebSocket message) and when a quiet connection should be pinged.

// Pinger is a Link that can check its peer without MSRP: a WebSocket link
// sends a Ping frame. The engine pings WebSocket connections that were
// quiet for Config.WSPing, so proxies and NATs keep them open.
type Pinger interface {
	Ping()
}

// Farewell is a Link that can tell its peer why the relay closes the
// connection: a WebSocket link sends a close frame with the code and
// reason (RFC 6455 §7.4) before it closes, so a browser sees a clean close
// that says why rather than a dropped connection.
type Farewell interface {
	CloseWith(code uint16, reason string)
}

// farewell is the WebSocket close code and reason for why the relay
// closes a connection.
func farewell(why Counter) (uint16, string) {
	switch why {
	case ConnsClosedProbation:
		return 1008, "no successful request in time"
	case ConnsClosedAuthFailures:
		return 1008, "too many failed AUTHs"
	case ConnsClosedRefusals:
		return 1008, "too many refused requests"
	case ConnsClosedProtocolError:
		return 1002, "MSRP protocol error"
	case ConnsClosedPanic:
		return 1011, "internal error"
	case ConnsClosedIdle:
		return 1000, "idle"
	}
	return 1000, ""
}

// closeLink asks l to close the connection, with a farewell when it can
// say one.
func (c *Conn) closeLink(l Link) {
	if f, ok := l.(Farewell); ok && c.lis != nil && c.lis.WebSocket {
		f.CloseWith(farewell(c.closeReason()))
		return
	}
	l.Close()
}

// keepAlive pings a quiet WebSocket connection, at most once per WSPing.
// Only the timers call it.
func (c *Conn) keepAlive(now int64) {
	every := int64(c.relay.cfg.WSPing)
	if c.lis == nil || !c.lis.WebSocket || now-c.lastActive.Load() < every || now-c.pinged < every {
		return
	}
	l := c.link.Load()
	if l == nil {
		return
	}
	if p, ok := (*l).(Pinger); ok {
		c.pinged = now
		p.Ping()
	}
}

// messageEnds records where frames end in an out's pending bytes, for a
// link that sends each frame as one message (only then is it on): the
// driver of a WebSocket connection ends a message at each of them.
// Guarded by the out's mutex.
type messageEnds struct {
	on    bool
	at    []int // offsets in pending
	given []int // offsets in the buffer take handed the driver
}

// mark records that a frame ends at offset n of pending.
func (m *messageEnds) mark(n int) {
	if m.on {
		m.at = append(m.at, n)
	}
}

// take hands over the ends of the pending buffer the driver takes.
func (m *messageEnds) take() []int {
	if !m.on {
		return nil
	}
	m.given, m.at = m.at, m.given[:0]
	return m.given
}

// released accounts for a taken buffer coming back: its first taken bytes
// went out, and its last rest bytes go back in front of the new pending.
func (m *messageEnds) released(taken, rest int) {
	if !m.on {
		return
	}
	kept := m.given[:0]
	for _, e := range m.given {
		if e > taken {
			kept = append(kept, e-taken)
		}
	}
	if rest == 0 {
		m.given = kept
		return
	}
	for _, e := range m.at {
		kept = append(kept, e+rest)
	}
	m.at, m.given = kept, m.at[:0]
}

// atomicMax is the longest body forwarded to c as one unit when a whole
// chunk is in the read buffer: a WebSocket client's message limit may be
// shorter than maxAtomic, and then the chunk streams and is cut.
func (c *Conn) atomicMax() int64 {
	if c.out.ends.on {
		return min(maxAtomic, c.relay.cfg.WSMaxChunk)
	}
	return maxAtomic
}

// goAwayWait bounds how long GoAway waits for the close frames to go out.
const goAwayWait = time.Second

// GoAway closes every WebSocket connection with a close frame saying the
// relay is going away (1001), and waits up to a second for them to close:
// a driver stopping calls it before it drops every connection, so that
// browsers see a clean close and reconnect rather than an error.
func (r *Relay) GoAway() {
	r.connMu.Lock()
	var ws []*Conn
	for c := range r.conns {
		if c.lis != nil && c.lis.WebSocket {
			ws = append(ws, c)
		}
	}
	r.connMu.Unlock()
	for _, c := range ws {
		if l := c.link.Load(); l != nil {
			if f, ok := (*l).(Farewell); ok {
				f.CloseWith(1001, "relay shutting down")
			}
		}
	}
	deadline := time.Now().Add(goAwayWait)
	for _, c := range ws {
		for !c.closed.Load() && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
	}
}
