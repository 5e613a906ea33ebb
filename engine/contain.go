package engine

import (
	"fmt"
	"runtime/debug"

	"github.com/rs/zerolog"
)

// Panicked records a panic a driver recovered while handling c (nil when
// no single connection was concerned): an error line with the stack and
// the Panics counter. The driver then closes c as if its peer had dropped,
// so its sessions end and its transactions fail as usual; every other
// connection carries on. Call it from the deferred recover, so the stack
// still shows where the panic began.
func (r *Relay) Panicked(c *Conn, v any) {
	r.cfg.Metrics.Add(Panics, 1)
	if c != nil {
		c.decideClose(ConnsClosedPanic)
	}
	e := r.log.WithLevel(zerolog.ErrorLevel)
	if c != nil {
		e = c.logAt(zerolog.ErrorLevel)
	}
	if e == nil {
		return
	}
	e.Str("panic", fmt.Sprint(v)).Bytes("stack", debug.Stack()).Msg("bug: recovered a panic; closing the connection concerned")
}

// tickContained runs c's timers; a panic there costs c only. The timers
// run beside the connection's own goroutine, so the close is the driver's
// (Abort would touch inbound state from here).
func (c *Conn) tickContained(w *Worker, now int64) {
	defer func() {
		if v := recover(); v != nil {
			c.relay.Panicked(c, v)
			c.close()
		}
	}()
	c.tick(w, now)
}

// Abort ends c after a recovered panic, without trusting its driver to
// get there. Call it only on the goroutine that calls Receive for c (it
// touches inbound state): the engine's side closes at once (sessions end, transactions
// fail) and the driver is asked to close the socket.
func (c *Conn) Abort() {
	defer func() {
		if l := c.link.Load(); l != nil {
			(*l).Close()
		}
	}()
	defer func() {
		// State a panic left half-changed may make the close panic too:
		// the socket still closes, and the process goes on.
		if v := recover(); v != nil {
			c.relay.Panicked(c, v)
		}
	}()
	c.Closed(nil)
}
