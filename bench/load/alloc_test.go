//go:build !race

package load

import (
	"bytes"
	"testing"

	"github.com/msrprelay/msrprelay/endpoint"
)

// The per-message path (stamp a SEND in place; parse, verify and answer
// it) must not allocate.
func TestPerMessageAllocs(t *testing.T) {
	tpl := newSendTemplate("msrp://127.0.0.1:1/s;tcp msrp://127.0.0.1:2/bob;tcp", "msrp://127.0.0.1:3/alice;tcp", 100)
	out := make([]byte, 0, 4096)
	wire := make([]byte, 0, 4096)
	self := []byte("msrp://127.0.0.1:2/bob;tcp")
	src := bytes.NewReader(nil)
	r := endpoint.NewReader(src, 4096)
	var seq uint64
	var tr seqTracker
	allocs := testing.AllocsPerRun(1000, func() {
		wire = tpl.appendSend(wire[:0], 1, seq, 1)
		src.Reset(wire)
		body, _, err := r.Next()
		if err != nil {
			t.Fatal(err)
		}
		s, _, err := checkBody(body)
		if err != nil {
			t.Fatal(err)
		}
		tr.add(s)
		out = appendOK(out[:0], r.Parsed(), self)
		seq++
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per message", allocs)
	}
}

func BenchmarkPerMessage(b *testing.B) {
	tpl := newSendTemplate("msrp://127.0.0.1:1/s;tcp msrp://127.0.0.1:2/bob;tcp", "msrp://127.0.0.1:3/alice;tcp", 100)
	out := make([]byte, 0, 4096)
	wire := make([]byte, 0, 4096)
	self := []byte("msrp://127.0.0.1:2/bob;tcp")
	src := bytes.NewReader(nil)
	r := endpoint.NewReader(src, 4096)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		wire = tpl.appendSend(wire[:0], 1, uint64(i), 1)
		src.Reset(wire)
		body, _, _ := r.Next()
		_, _, _ = checkBody(body)
		out = appendOK(out[:0], r.Parsed(), self)
	}
}
