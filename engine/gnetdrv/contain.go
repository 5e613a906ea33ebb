package gnetdrv

import (
	"net"

	"github.com/panjf2000/gnet/v2"
)

// gnet recovers no panic in its callbacks or in tasks run through Execute,
// and a panic in a goroutine of ours ends the process: every session, for
// one connection's bug. Each boundary where the driver's or the engine's
// code runs recovers here, records the panic (Relay.Panicked: the Panics
// counter and an error line with the stack) and closes only the connection
// concerned.

// contain closes l after a recovered panic in its handling, on the loop
// that owns it: the engine's side at once (its state may be half-changed),
// the socket through the usual close.
func (l *link) contain(v any) {
	l.srv.relay.Panicked(l.ec, v)
	if l.ec != nil {
		l.ec.Abort()
		return
	}
	l.Close()
}

// recoverOnLoop is deferred by the work a loop does for one link outside
// OnOpen and OnTraffic: tasks, and each flush of a dirty list (which runs
// inside another connection's callback).
func (l *link) recoverOnLoop() {
	if v := recover(); v != nil {
		l.contain(v)
	}
}

// recoverCallback is deferred by OnOpen and OnTraffic: the connection is
// closed by the returned action as well.
func (l *link) recoverCallback(action *gnet.Action) {
	if v := recover(); v != nil {
		l.contain(v)
		*action = gnet.Close
	}
}

// recoverOffLoop is deferred by work on other goroutines (timers) that only
// posts to the link's loop: the engine is told by the close, on the loop.
func (l *link) recoverOffLoop() {
	if v := recover(); v != nil {
		l.srv.relay.Panicked(l.ec, v)
		l.Close()
	}
}

// recoverHandOff is deferred by the code that hands a socket to gnet
// (Serve and Attach, on the Front's goroutines, and unpark): they own the
// link until its OnOpen, so a panic before it ends the link there; after
// it, the link is gnet's and carries on.
func (l *link) recoverHandOff(nc *net.Conn) {
	v := recover()
	if v == nil {
		return
	}
	l.srv.relay.Panicked(l.ec, v)
	if *nc != nil {
		_ = (*nc).Close()
	}
	if l.st.enrollFailed() {
		l.end(nil, -1)
	}
}
