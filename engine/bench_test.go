package engine

import (
	"testing"

	"github.com/msrprelay/msrprelay/codec"
)

// forwardLoop is one SEND's whole trip through the core, without sockets:
// alice's SEND in, forwarded to bob, bob's 200 in and absorbed, alice's
// hop-by-hop 200 out.
type forwardLoop struct {
	w              Worker
	alice, bob     *Conn
	send, response []byte
	respHdr        []byte
}

func newForwardLoop(tb testing.TB) *forwardLoop {
	r, _ := testRelay(tb, nil)
	fl := &forwardLoop{}
	var to string
	fl.alice, fl.bob, _, _, to = setup(tb, r)
	fl.send = sendFrame("tidBench1", to, aliceURI, "1-100/100", make([]byte, 100))
	return fl
}

func (fl *forwardLoop) run(tb testing.TB) {
	if n, err := fl.alice.Receive(&fl.w, fl.send); err != nil || n != len(fl.send) {
		tb.Fatal(n, err)
	}
	var fwdTID tid
	fl.bob.Flush(func(b []byte) (int, int) {
		// The forwarded tid sits after "MSRP "; answer it like bob would.
		end := 5
		for b[end] != ' ' {
			end++
		}
		fwdTID.set(b[5:end])
		return len(b), 0
	})
	fl.respHdr = codec.AppendResponseLine(fl.respHdr[:0], fwdTID.bytes(), 200, "OK")
	fl.respHdr = codec.AppendHeaderString(fl.respHdr, "To-Path", "msrp://relay.example.com:2855/x;tcp")
	fl.respHdr = codec.AppendHeaderString(fl.respHdr, "From-Path", bobURI)
	fl.respHdr = codec.AppendEndLine(fl.respHdr, fwdTID.bytes(), '$')
	if n, err := fl.bob.Receive(&fl.w, fl.respHdr); err != nil || n != len(fl.respHdr) {
		tb.Fatal(n, err)
	}
	fl.alice.Flush(func(b []byte) (int, int) { return len(b), 0 })
}

// BenchmarkForwardSEND is the relay core's cost per forwarded SEND (100-byte
// body), response included: parsing, routing, rewriting, transactions.
func BenchmarkForwardSEND(b *testing.B) {
	fl := newForwardLoop(b)
	b.ReportAllocs()
	for b.Loop() {
		fl.run(b)
	}
}
