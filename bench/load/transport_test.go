package load

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/msrprelay/msrprelay/endpoint"
	"github.com/msrprelay/msrprelay/engine"
	"github.com/msrprelay/msrprelay/engine/e2etest"
	"github.com/msrprelay/msrprelay/engine/gnetdrv/gnettest"
)

// multiRelay is an in-process gnet relay listening on every transport.
type multiRelay struct {
	addrs  map[Transport]string
	client *tls.Config
}

func startMultiRelay(t *testing.T) *multiRelay {
	t.Helper()
	opts, client := e2etest.SelfSignedTLS(t)
	r := &multiRelay{addrs: map[Transport]string{}, client: client}
	var lis []engine.Listener
	var listen []string
	for _, tr := range []Transport{TransportTCP, TransportTLS, TransportWS, TransportWSS} {
		port := e2etest.FreePort(t)
		lis = append(lis, engine.Listener{Port: port, Secure: tr.Secure(), WebSocket: tr.WebSocket()})
		r.addrs[tr] = fmt.Sprintf("127.0.0.1:%d", port)
		listen = append(listen, string(tr)+"://"+r.addrs[tr])
	}
	gnettest.StartOn(t, e2etest.BaseConfig(t), lis, listen, opts)
	return r
}

func (r *multiRelay) target(sender, receiver Transport) Target {
	tg := relayTarget(r.addrs[TransportTCP])
	tg.TLS = r.client
	tg.Sender = &Side{Transport: sender, Addrs: []string{r.addrs[sender]}}
	tg.Receiver = &Side{Transport: receiver, Addrs: []string{r.addrs[receiver]}}
	return tg
}

// Pairs on any transport, the two ends of a pair on the same or on
// different ones, deliver every message and every chunk of a file.
func TestRunOverTransports(t *testing.T) {
	r := startMultiRelay(t)
	const fileSize = 2<<20 + 1000
	for _, tc := range []struct {
		sender, receiver Transport
		sc               Scenario
		want             int64
		wantTransports   string
		cut              bool // the relay cuts the chunks toward the receiver
	}{
		{TransportWS, TransportWS, Scenario{Pairs: 2, Window: 4, Messages: 200}, 200, "ws", false},
		{TransportWSS, TransportWSS, Scenario{Pairs: 2, Window: 4, Messages: 200, Topology: Shared}, 200, "wss", false},
		{TransportWS, TransportTCP, Scenario{Pairs: 2, Window: 4, Messages: 200, BodySize: 4000}, 200, "ws to tcp", false},
		{TransportTLS, TransportWSS, Scenario{Pairs: 1, Window: 4, Messages: 100}, 100, "tls to wss", false},
		{TransportWSS, TransportTCP, Scenario{Pairs: 1, Window: 64, FileSize: fileSize, BodySize: 64 << 10}, 33, "wss to tcp", false},
		// Toward a WebSocket client the relay cuts chunks; the receiver
		// puts them together again.
		{TransportTCP, TransportWS, Scenario{Pairs: 1, Window: 64, FileSize: fileSize, BodySize: 128 << 10}, 17, "tcp to ws", true},
	} {
		t.Run(tc.wantTransports, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			res, err := Run(ctx, r.target(tc.sender, tc.receiver), tc.sc)
			if err != nil {
				t.Fatal(err)
			}
			checkClean(t, res, tc.want)
			if cut := res.Chunks > 0; cut != tc.cut {
				t.Fatalf("%d chunks arrived cut, want cut %v", res.Chunks, tc.cut)
			}
			if res.Transport != tc.wantTransports {
				t.Fatalf("transport %q, want %q", res.Transport, tc.wantTransports)
			}
		})
	}
}

func TestTargetValidateTransports(t *testing.T) {
	for _, tc := range []struct {
		name string
		t    Target
		want string
	}{
		{"wss without TLS", Target{Addrs: []string{"127.0.0.1:1"}, User: "u", RealmHost: "h",
			Sender: &Side{Transport: TransportWSS, Addrs: []string{"127.0.0.1:2"}}}, "wss needs a TLS client configuration"},
		{"unknown transport", Target{Addrs: []string{"127.0.0.1:1"}, User: "u", RealmHost: "h",
			Receiver: &Side{Transport: "udp", Addrs: []string{"127.0.0.1:2"}}}, `transport "udp"`},
		{"side without address", Target{Addrs: []string{"127.0.0.1:1"}, User: "u", RealmHost: "h",
			Receiver: &Side{Transport: TransportWS}}, "no address"},
	} {
		err := tc.t.validate()
		if err == nil || !bytes.Contains([]byte(err.Error()), []byte(tc.want)) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
}

// Over WebSocket a batch of frames leaves in one write on the socket,
// each frame a message of its own, and a frame written by another
// goroutine meanwhile (a pong) never lands inside one of them.
func TestWSBatchIsOneWriteOfWholeMessages(t *testing.T) {
	sock := &countingConn{}
	l := &link{ws: newWSSocket(sock)}
	wc := endpoint.NewWSConn(l.ws, nil)
	l.Conn = wc
	tpl := newSendTemplate("msrp://127.0.0.1:1/s;tcp msrp://b.invalid:2/bob;ws", "msrp://a.invalid:3/alice;ws", 100)
	var b []byte
	var ends []int
	for seq := range uint64(3) {
		b = tpl.appendSend(b, 1, seq, 1)
		ends = append(ends, len(b))
	}
	if err := l.writeFrames(b, ends); err != nil {
		t.Fatal(err)
	}
	if sock.writes != 1 {
		t.Fatalf("%d writes on the socket, want 1", sock.writes)
	}
	start := 0
	for i, end := range ends {
		f, err := ws.ReadFrame(&sock.out)
		if err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		if !f.Header.Masked || !f.Header.Fin || f.Header.OpCode != ws.OpBinary {
			t.Fatalf("message %d: header %+v", i, f.Header)
		}
		f = ws.UnmaskFrameInPlace(f)
		if !bytes.Equal(f.Payload, b[start:end]) {
			t.Fatalf("message %d is not frame %d", i, i)
		}
		start = end
	}
	if sock.out.Len() != 0 {
		t.Fatalf("%d bytes after the messages", sock.out.Len())
	}
}

// Reading many small messages over WebSocket takes few reads on the
// socket, not a header read and a payload read for each.
func TestWSReadsAreBuffered(t *testing.T) {
	sock := &countingConn{}
	var wire bytes.Buffer
	tpl := newSendTemplate("msrp://127.0.0.1:1/s;tcp msrp://b.invalid:2/bob;ws", "msrp://a.invalid:3/alice;ws", 100)
	const n = 50
	for seq := range uint64(n) {
		frame := tpl.appendSend(nil, 1, seq, 1)
		if err := ws.WriteFrame(&wire, ws.NewBinaryFrame(frame)); err != nil {
			t.Fatal(err)
		}
	}
	sock.in.Reset(wire.Bytes())
	r := endpoint.NewReader(endpoint.NewWSConn(newWSSocket(sock), nil), 64<<10)
	for i := range n {
		if _, _, err := r.Next(); err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
	}
	if sock.reads > 3 {
		t.Fatalf("%d reads on the socket for %d messages", sock.reads, n)
	}
}

// Over WebSocket a reader sees one message per read: readAhead tells it
// more are waiting below, so that it answers them together.
func TestWSReadAhead(t *testing.T) {
	sock := &countingConn{}
	var wire bytes.Buffer
	tpl := newSendTemplate("msrp://127.0.0.1:1/s;tcp msrp://b.invalid:2/bob;ws", "msrp://a.invalid:3/alice;ws", 100)
	for seq := range uint64(3) {
		if err := ws.WriteFrame(&wire, ws.NewBinaryFrame(tpl.appendSend(nil, 1, seq, 1))); err != nil {
			t.Fatal(err)
		}
	}
	sock.in.Reset(wire.Bytes())
	under := newWSSocket(sock)
	l := &link{Conn: endpoint.NewWSConn(under, nil), ws: under}
	r := endpoint.NewReader(l, 64<<10)
	for i, want := range []bool{true, true, false} {
		if _, _, err := r.Next(); err != nil {
			t.Fatal(err)
		}
		if r.Buffered() || l.readAhead() != want {
			t.Fatalf("after message %d: reader buffered %v, read ahead %v, want %v", i, r.Buffered(), l.readAhead(), want)
		}
	}
	if (&link{Conn: sock}).readAhead() {
		t.Fatal("a tcp link reads ahead")
	}
}

// A frame written while a batch is on its way (a pong the reader
// answers) does not wait for the socket: it goes out right after the
// batch, whole.
func TestWSWriteDuringReleaseDoesNotBlock(t *testing.T) {
	sock := &blockingConn{entered: make(chan struct{}, 1), unblock: make(chan struct{})}
	s := newWSSocket(sock)
	s.hold()
	if _, err := s.Write([]byte("batch")); err != nil {
		t.Fatal(err)
	}
	released := make(chan error)
	go func() { released <- s.release() }()
	<-sock.entered // the batch's write is stuck in the socket
	if _, err := s.Write([]byte("pong")); err != nil {
		t.Fatal(err)
	}
	close(sock.unblock)
	if err := <-released; err != nil {
		t.Fatal(err)
	}
	if got := sock.out.String(); got != "batchpong" {
		t.Fatalf("socket got %q", got)
	}
	if _, err := s.Write([]byte("!")); err != nil || sock.out.String() != "batchpong!" {
		t.Fatalf("after release: %v, socket got %q", err, sock.out.String())
	}
}

// blockingConn's first write blocks until unblock is closed.
type blockingConn struct {
	net.Conn
	entered, unblock chan struct{}
	mu               sync.Mutex
	out              bytes.Buffer
}

func (c *blockingConn) Write(p []byte) (int, error) {
	select {
	case c.entered <- struct{}{}:
		<-c.unblock
	default:
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.out.Write(p)
}

// countingConn is a socket that keeps what is written, reads from in and
// counts both.
type countingConn struct {
	net.Conn
	out           bytes.Buffer
	in            bytes.Reader
	writes, reads int
}

func (c *countingConn) Write(p []byte) (int, error) {
	c.writes++
	return c.out.Write(p)
}

func (c *countingConn) Read(p []byte) (int, error) {
	c.reads++
	return c.in.Read(p)
}
