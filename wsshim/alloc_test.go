//go:build !race

package wsshim

import (
	"testing"

	"github.com/gobwas/ws"
)

// TestSteadyStateAllocatesNothing: once warm, a round of a client frame
// read, a chunk written in two frames, a ping and its pong allocates
// nothing: buffers come from the pools and go back when written.
func TestSteadyStateAllocatesNothing(t *testing.T) {
	s := open(t, &msrpConfig)
	in := append(clientFrame(ws.OpBinary, true, make([]byte, 4096), testMask), masked(ws.OpPing, true, "k")...)
	chunk := make([]byte, 16<<10)
	dst := make([]byte, 0, 8192)
	round := func() {
		var err error
		dst, err = s.Feed(dst[:0], in)
		if err != nil || len(dst) != 4096 {
			t.Fatalf("err %v, %d bytes", err, len(dst))
		}
		s.Write(chunk[:100], false)
		s.Write(chunk, true)
		s.Ping()
		_ = s.Output()
		s.Written()
	}
	for range 100 {
		round()
	}
	if n := testing.AllocsPerRun(500, round); n != 0 {
		t.Fatalf("%.1f allocations per round", n)
	}
}
