//go:build !race

package engine

import "testing"

// TestForwardAllocatesNothing pins the core's per-frame budget: once pools
// and maps are warm, a forwarded SEND and its response allocate nothing.
func TestForwardAllocatesNothing(t *testing.T) {
	fl := newForwardLoop(t)
	for i := 0; i < 100; i++ {
		fl.run(t)
	}
	if n := testing.AllocsPerRun(1000, func() { fl.run(t) }); n != 0 {
		t.Fatalf("%.2f allocs per forwarded SEND", n)
	}
}
