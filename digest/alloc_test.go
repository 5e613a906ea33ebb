//go:build !race

package digest

import "testing"

// TestHotPathsAllocateNothing pins the zero-allocation budget of every
// per-AUTH operation (the race detector adds allocations, hence the tag).
func TestHotPathsAllocateNothing(t *testing.T) {
	for _, h := range hotPaths {
		st := newHotState(t)
		if n := testing.AllocsPerRun(100, func() { h.run(t, st) }); n != 0 {
			t.Errorf("%s: %.1f allocs per run", h.name, n)
		}
	}
}
