package enginetest

import (
	"testing"

	"github.com/msrprelay/msrprelay/engine"
)

// Feed hands wire to c as a driver reading its socket would, in pieces
// cut at the offsets cuts (ascending; none: one piece): each read adds a
// piece to what Receive left unconsumed and offers it all again. The
// test fails on a Receive error, or if bytes are left unconsumed at the
// end (a paused connection: a test of backpressure calls Receive itself).
func Feed(t testing.TB, w *engine.Worker, c *engine.Conn, wire []byte, cuts ...int) {
	t.Helper()
	var pending []byte
	from := 0
	for _, to := range append(cuts, len(wire)) {
		pending = append(pending, wire[from:to]...)
		from = to
		n, err := c.Receive(w, pending)
		if err != nil {
			t.Fatalf("Receive at byte %d of %d: %v", to-len(pending)+n, len(wire), err)
		}
		pending = pending[n:]
	}
	if len(pending) > 0 {
		t.Fatalf("Receive left %d of %d bytes unconsumed (paused %v)", len(pending), len(wire), c.Paused())
	}
}
