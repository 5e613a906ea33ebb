//go:build !race

package endpoint

import (
	"bytes"
	"testing"
)

// Taking a whole frame with Next allocates nothing: the load generator
// reads every message this way.
func TestNextAllocs(t *testing.T) {
	wire := send("tid1", "hello, world", '$')
	src := bytes.NewReader(wire)
	r := NewReader(src, 4096)
	allocs := testing.AllocsPerRun(1000, func() {
		src.Reset(wire)
		if _, _, err := r.Next(); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per frame", allocs)
	}
}
