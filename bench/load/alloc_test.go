//go:build !race

package load

import (
	"bytes"
	"testing"

	"github.com/msrprelay/msrprelay/endpoint"
)

// perMessage is the generator's per-message path over an in-memory wire:
// stamp a SEND in place, read it back, verify its body, answer it.
type perMessage struct {
	tpl             *sendTemplate
	out, wire, self []byte
	src             *bytes.Reader
	r               *endpoint.Reader
	tr              seqTracker
}

func newPerMessage() *perMessage {
	src := bytes.NewReader(nil)
	return &perMessage{
		tpl:  newSendTemplate("msrp://127.0.0.1:1/s;tcp msrp://127.0.0.1:2/bob;tcp", "msrp://127.0.0.1:3/alice;tcp", 100),
		out:  make([]byte, 0, 4096),
		wire: make([]byte, 0, 4096),
		self: []byte("msrp://127.0.0.1:2/bob;tcp"),
		src:  src,
		r:    endpoint.NewReader(src, 4096),
	}
}

func (p *perMessage) step(seq uint64) error {
	p.wire = p.tpl.appendSend(p.wire[:0], 1, seq, 1)
	p.src.Reset(p.wire)
	body, _, err := p.r.Next()
	if err != nil {
		return err
	}
	s, _, err := checkBody(body)
	if err != nil {
		return err
	}
	p.tr.add(s)
	p.out = appendOK(p.out[:0], p.r.Parsed(), p.self)
	return nil
}

// The per-message path (stamp a SEND in place; parse, verify and answer
// it) must not allocate.
func TestPerMessageAllocs(t *testing.T) {
	p := newPerMessage()
	var seq uint64
	allocs := testing.AllocsPerRun(1000, func() {
		if err := p.step(seq); err != nil {
			t.Fatal(err)
		}
		seq++
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per message", allocs)
	}
}

func BenchmarkPerMessage(b *testing.B) {
	p := newPerMessage()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if err := p.step(uint64(i)); err != nil {
			b.Fatal(err)
		}
	}
}

// Over WebSocket a batch of frames (each its own message, the batch one
// write on the socket) costs no allocation once the buffers have grown.
func TestWSWriteFramesAllocs(t *testing.T) {
	sock := &countingConn{}
	l := &link{ws: newWSSocket(sock)}
	l.Conn = endpoint.NewWSConn(l.ws, nil)
	tpl := newSendTemplate("msrp://127.0.0.1:1/s;tcp msrp://b.invalid:2/bob;ws", "msrp://a.invalid:3/alice;ws", 100)
	b := make([]byte, 0, 4096)
	ends := make([]int, 0, 4)
	var seq uint64
	round := func() {
		sock.out.Reset()
		b, ends = b[:0], ends[:0]
		for range 4 {
			b = tpl.appendSend(b, 1, seq, 1)
			ends = append(ends, len(b))
			seq++
		}
		if err := l.writeFrames(b, ends); err != nil {
			t.Fatal(err)
		}
	}
	round()
	if allocs := testing.AllocsPerRun(1000, round); allocs != 0 {
		t.Fatalf("%v allocations per batch", allocs)
	}
}
