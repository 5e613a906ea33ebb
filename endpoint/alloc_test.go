//go:build !race

package endpoint

import (
	"bytes"
	"net"
	"testing"

	"github.com/gobwas/ws"
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

// A WebSocket connection writes a frame as one message and reads one
// without allocating once its buffers have grown.
func TestWSConnAllocs(t *testing.T) {
	var sock loopConn
	c := NewWSConn(&sock, nil)
	wire := send("tid1", "hello, world", '$')
	// A server frame (unmasked binary) for each read.
	var frame bytes.Buffer
	if err := ws.WriteFrame(&frame, ws.NewBinaryFrame(wire)); err != nil {
		t.Fatal(err)
	}
	in := frame.Bytes()
	buf := make([]byte, 4096)
	round := func() {
		sock.out.Reset()
		if _, err := c.Write(wire); err != nil {
			t.Fatal(err)
		}
		sock.in.Reset(in)
		if n, err := c.Read(buf); err != nil || n != len(wire) {
			t.Fatalf("read %d, %v", n, err)
		}
	}
	round()
	if allocs := testing.AllocsPerRun(1000, round); allocs != 0 {
		t.Fatalf("%v allocations per round", allocs)
	}
}

// loopConn is a net.Conn reading from in and writing to out.
type loopConn struct {
	net.Conn
	in  bytes.Reader
	out bytes.Buffer
}

func (c *loopConn) Read(p []byte) (int, error)  { return c.in.Read(p) }
func (c *loopConn) Write(p []byte) (int, error) { return c.out.Write(p) }
