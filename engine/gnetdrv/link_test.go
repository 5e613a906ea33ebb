package gnetdrv

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/panjf2000/gnet/v2"
	"github.com/rs/zerolog"
	"golang.org/x/sys/unix"

	"github.com/msrprelay/msrprelay/endpoint"
	"github.com/msrprelay/msrprelay/engine"
	"github.com/msrprelay/msrprelay/engine/e2etest"
)

// testServer is a gnet Server run by a test, with its address.
type testServer struct {
	*Server
	port int
	addr string
	uri  string // the AUTH To-Path
}

// startServer runs a Server on a free port; opts.Listen is filled in.
func startServer(t testing.TB, cfg engine.Config, opts Options) *testServer {
	t.Helper()
	port := e2etest.FreePort(t)
	r, err := engine.New(cfg, []engine.Listener{{Port: port}})
	if err != nil {
		t.Fatal(err)
	}
	opts.Listen = []string{fmt.Sprintf("tcp://127.0.0.1:%d", port)}
	if opts.Loops == 0 {
		opts.Loops = 2
	}
	opts.Logger = cfg.Logger
	s := New(r, opts)
	done := make(chan error, 1)
	go func() { done <- s.Run() }()
	select {
	case <-s.Started():
	case err := <-done:
		t.Fatalf("gnet: %v", err)
	}
	t.Cleanup(func() {
		_ = s.Stop(context.Background())
		<-done
	})
	return &testServer{Server: s, port: port, addr: fmt.Sprintf("127.0.0.1:%d", port), uri: fmt.Sprintf("msrp://example.com:%d;tcp", port)}
}

func (ts *testServer) dial(t testing.TB) *endpoint.Conn {
	t.Helper()
	c, err := endpoint.Dial(ts.addr, nil, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(30 * time.Second))
	t.Cleanup(func() { c.Close() })
	return c
}

const bobURI = "msrp://bob.example.com:9/bob;tcp"

// testPair is bob AUTHed and alice connected, with the To-Path of bob's
// session.
type testPair struct {
	alice, bob *endpoint.Conn
	to         string
}

func (ts *testServer) pair(t testing.TB) *testPair {
	t.Helper()
	bob := ts.dial(t)
	res, err := bob.Auth(endpoint.AuthOptions{RelayURI: ts.uri, FromURI: bobURI, User: "bob", Password: e2etest.Password})
	if err != nil {
		t.Fatal(err)
	}
	return &testPair{alice: ts.dial(t), bob: bob, to: res.UsePath + " " + bobURI}
}

func (p *testPair) send(id string, body []byte) endpoint.Request {
	return endpoint.Request{Method: "SEND", ToPath: p.to, FromPath: "msrp://alice.example.com:9/a1;tcp",
		Headers:     [][2]string{{"Message-ID", id}, {"Byte-Range", fmt.Sprintf("1-%d/%d", len(body), len(body))}},
		ContentType: "text/plain", Body: body}
}

// exchange proves the pair works: a SEND delivered, its 200 returned.
func (p *testPair) exchange(t testing.TB, body string) {
	t.Helper()
	req := p.send("x", []byte(body))
	if err := p.alice.Send(&req); err != nil {
		t.Fatal(err)
	}
	f, err := p.bob.ReadFrame()
	if err != nil || f.Method != "SEND" || string(f.Body) != body {
		t.Fatalf("bob got %+v, %v", f, err)
	}
	p.bob.Respond(f, 200, "OK")
	f, err = p.alice.ReadFrame()
	if err != nil || f.TID != req.TID || f.Code != 200 {
		t.Fatalf("alice got %+v, %v", f, err)
	}
}

// eventually polls cond for up to five seconds.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); time.Sleep(2 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting: %s", what)
		}
	}
}

// someLoop is a loop of s's, once a connection opened on it.
func someLoop(t testing.TB, ts *testServer) *loopState {
	t.Helper()
	ts.dial(t)
	var ls *loopState
	eventually(t, "a loop", func() bool {
		ts.loopsMu.Lock()
		defer ts.loopsMu.Unlock()
		for _, l := range ts.loops {
			ls = l
		}
		return ls != nil
	})
	return ls
}

// socketPair is a connected TCP pair: the test's end and a duplicate of
// the other end's descriptor, as parking holds it.
func socketPair(t testing.TB) (peer *net.TCPConn, fd int) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	sc, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Close()
	raw, _ := sc.(*net.TCPConn).SyscallConn()
	if cerr := raw.Control(func(s uintptr) { fd, err = unix.Dup(int(s)) }); cerr != nil || err != nil {
		t.Fatal(cerr, err)
	}
	t.Cleanup(func() { c.Close() })
	return c.(*net.TCPConn), fd
}

// parkedLink is a link the engine knows, parked on ls holding fd, as
// parking leaves it; moveTo is where it is to be enrolled (nil: any loop).
func parkedLink(ts *testServer, ls *loopState, fd int, moveTo gnet.EventLoop) *link {
	src := netip.MustParseAddr("127.0.0.2")
	ts.Admit(src)
	l := newLink(ts.Server, src, engine.Listener{Port: ts.port})
	l.ec = ts.relay.Open(l, netip.AddrPortFrom(src, 9), l.lis, engine.PeerInfo{})
	l.st.phase = parked
	l.st.fd = fd
	l.st.moveTo = moveTo
	l.st.home.Store(&home{l: l, loop: ls, el: ls.loop})
	ts.parkedLinks.Store(l, struct{}{})
	return l
}

// TestResumeResetSocket: a parked socket whose peer reset is resumed, for
// a plain resume and for a move to another loop. getpeername fails on it
// and gnet would dereference the missing address in its own goroutine,
// ending the process; the link ends instead, once.
func TestResumeResetSocket(t *testing.T) {
	cfg := e2etest.BaseConfig(t)
	m := &panicCounter{}
	cfg.Metrics = m
	logs := &syncBuffer{}
	cfg.Logger = zerolog.New(logs).Level(zerolog.InfoLevel)
	ts := startServer(t, cfg, Options{})
	ls := someLoop(t, ts)
	for _, move := range []bool{false, true} {
		base := ts.Conns()
		peer, fd := socketPair(t)
		peer.SetLinger(0)
		peer.Close()
		eventually(t, "the reset", func() bool {
			_, err := unix.Getpeername(fd)
			return err != nil
		})
		var to gnet.EventLoop
		if move {
			to = ls.loop
		}
		l := parkedLink(ts, ls, fd, to)
		l.Resume()
		eventually(t, "the link's end", func() bool { return l.closed.Load() && ts.Conns() <= base })
		l.Close()
		l.Resume()
		time.Sleep(20 * time.Millisecond)
		if got := ts.Conns(); got != base || l.st.phase != closed {
			t.Fatalf("move=%v: after a late Close: %d connections counted, want %d; %s", move, got, base, l.st.phase)
		}
		// Seen before gnet: no panic to contain, in our goroutine or in
		// gnet's pool (which swallows it and leaves no result).
		if got := strings.Count(logs.String(), errPeerGone.Error()); got != 1 {
			t.Fatalf("move=%v: the reset was noticed %d times before enrolling, want 1", move, got)
		}
		logs.Reset()
	}
	if got := m.n.Load(); got != 0 {
		t.Fatalf("Panics = %d", got)
	}
}

// syncBuffer is a log sink for tests.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func (b *syncBuffer) Reset() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf.Reset()
}

// TestCloseRacesResumeOfParkedLink: the engine closes a parked link while
// resuming it (a receiver that hangs up frees its senders and ends their
// sessions at once). Whatever wins, the socket is closed (the peer reads
// EOF rather than a connection left enrolled that nobody tracks) and the
// connection cap is released exactly once.
func TestCloseRacesResumeOfParkedLink(t *testing.T) {
	ts := startServer(t, e2etest.BaseConfig(t), Options{})
	ls := someLoop(t, ts)
	base := ts.Conns()
	for i := 0; i < 40; i++ {
		peer, fd := socketPair(t)
		l := parkedLink(ts, ls, fd, nil)
		go l.Resume()
		if i%2 == 1 {
			time.Sleep(time.Duration(i) * 50 * time.Microsecond)
		}
		l.Close()
		peer.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := peer.Read(make([]byte, 1)); err != io.EOF {
			t.Fatalf("round %d: the peer read %v, want EOF", i, err)
		}
		eventually(t, "the link's end", func() bool { return l.closed.Load() && ts.Conns() <= base })
		time.Sleep(time.Millisecond) // a second release would come now
		if got := ts.Conns(); got != base {
			t.Fatalf("round %d: %d connections counted, want %d", i, got, base)
		}
	}
}

// TestPausedSenderInputStaysInKernel: a sender paused by the cap on
// transactions waiting for its receiver, who answers slowly. Each answer
// lets one more SEND through; what the sender sends meanwhile must wait in
// the kernel, not pile up in the relay (every resume once appended all new
// input to what was parked, and the relay grew by hundreds of MiB). Every
// message arrives, in order, and every 200 comes back.
func TestPausedSenderInputStaysInKernel(t *testing.T) {
	cfg := e2etest.BaseConfig(t)
	cfg.MaxPendingTransactions = 8
	cfg.TransactionTimeout = 30 * time.Second
	const maxParked, readBuf = 64 << 10, 64 << 10
	ts := startServer(t, cfg, Options{MaxParkedInbound: maxParked, ReadBuffer: readBuf, NoSettle: true})
	p := ts.pair(t)
	const n, size = 400, 16 << 10
	var wire []byte
	tids := make([]string, n)
	for i := range n {
		req := p.send(fmt.Sprint(i), bytes.Repeat([]byte{byte('a' + i%26)}, size))
		wire = req.Append(wire)
		tids[i] = req.TID
	}
	wrote := make(chan error, 1)
	go func() { wrote <- p.alice.Write(wire) }()
	answered := make(chan error, 1)
	go func() {
		for i := range n {
			f, err := p.alice.ReadFrame()
			if err == nil && (f.TID != tids[i] || f.Code != 200) {
				err = fmt.Errorf("answer %d: %s %d, want %s 200", i, f.TID, f.Code, tids[i])
			}
			if err != nil {
				answered <- err
				return
			}
		}
		answered <- nil
	}()
	for i := range n {
		f, err := p.bob.ReadFrame()
		if err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		if f.Header("Message-ID") != fmt.Sprint(i) || len(f.Body) != size || f.Body[0] != byte('a'+i%26) {
			t.Fatalf("message %d: got %q, %d bytes", i, f.Header("Message-ID"), len(f.Body))
		}
		time.Sleep(time.Millisecond)
		p.bob.Respond(f, 200, "OK")
	}
	if err := <-wrote; err != nil {
		t.Fatal(err)
	}
	if err := <-answered; err != nil {
		t.Fatal(err)
	}
	peak := ts.parkedPeak.Load()
	t.Logf("parked peak %d KiB of %d KiB sent", peak>>10, len(wire)>>10)
	if peak == 0 {
		t.Fatal("the sender was never parked: the test proves nothing")
	}
	if bound := int64(3 * (maxParked + readBuf)); peak > bound {
		t.Fatalf("the relay held %d KiB of a paused sender's input (bound %d KiB)", peak>>10, bound>>10)
	}
	eventually(t, "parked bytes released", func() bool { return ts.ParkedBytes() == 0 })
}

// panicCounter counts the Panics counter.
type panicCounter struct{ n atomic.Int64 }

func (m *panicCounter) Add(c engine.Counter, n int64) {
	if c == engine.Panics {
		m.n.Add(n)
	}
}

// TestPanicInTrafficIsContained: a request that makes the engine panic
// (injected through Config.TestHook) closes only the connection that sent
// it; the process and every other session go on.
func TestPanicInTrafficIsContained(t *testing.T) {
	cfg := e2etest.BaseConfig(t)
	m := &panicCounter{}
	cfg.Metrics = m
	cfg.TestHook = func(method []byte) {
		if string(method) == "BOOM" {
			panic("injected")
		}
	}
	ts := startServer(t, cfg, Options{})
	p := ts.pair(t)
	p.exchange(t, "before")
	boom := ts.dial(t)
	req := endpoint.Request{Method: "BOOM", ToPath: ts.uri, FromPath: "msrp://x.example.com:9/x;tcp"}
	if err := boom.Send(&req); err != nil {
		t.Fatal(err)
	}
	if f, err := boom.ReadFrame(); !errors.Is(err, io.EOF) {
		t.Fatalf("the connection that panicked got %+v, %v; want it closed", f, err)
	}
	p.exchange(t, "after")
	if got := m.n.Load(); got != 1 {
		t.Fatalf("Panics = %d, want 1", got)
	}
	eventually(t, "the cap released", func() bool { return ts.Conns() == 2 })
}

// TestPanicInTaskIsContained: a panic in work a loop runs for one link (a
// task, here a flush) ends that link only, and the loop goes on serving
// the others.
func TestPanicInTaskIsContained(t *testing.T) {
	cfg := e2etest.BaseConfig(t)
	m := &panicCounter{}
	cfg.Metrics = m
	ts := startServer(t, cfg, Options{Loops: 1})
	p := ts.pair(t)
	ls := someLoop(t, ts)
	peer, fd := socketPair(t)
	l := parkedLink(ts, ls, fd, nil)
	err := ls.loop.Execute(context.Background(), gnet.RunnableFunc(func(context.Context) error {
		defer l.recoverOnLoop()
		panic("injected")
	}))
	if err != nil {
		t.Fatal(err)
	}
	peer.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := peer.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("the link that panicked: the peer read %v, want EOF", err)
	}
	p.exchange(t, "the loop still serves")
	if got := m.n.Load(); got != 1 {
		t.Fatalf("Panics = %d, want 1", got)
	}
}
