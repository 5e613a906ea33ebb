package netdrv

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/msrprelay/msrprelay/engine"
	"github.com/msrprelay/msrprelay/engine/e2etest"
	"github.com/msrprelay/msrprelay/engine/enginetest"
	"github.com/msrprelay/msrprelay/tlsshim"
)

// recorder is a Transport that keeps what it is handed.
type recorder struct {
	served   chan Conn
	attached chan Conn
}

func newRecorder() *recorder {
	return &recorder{served: make(chan Conn, 16), attached: make(chan Conn, 16)}
}

func (r *recorder) Serve(c Conn)                  { r.served <- c }
func (r *recorder) Attach(_ *engine.Conn, c Conn) { r.attached <- c }

func (r *recorder) next(t *testing.T, ch chan Conn) Conn {
	t.Helper()
	select {
	case c := <-ch:
		t.Cleanup(func() { c.Socket.Close() })
		return c
	case <-time.After(10 * time.Second):
		t.Fatal("nothing handed over")
		return Conn{}
	}
}

func (r *recorder) none(t *testing.T, ch chan Conn) {
	t.Helper()
	select {
	case c := <-ch:
		t.Fatalf("handed over: %v", c.Remote)
	case <-time.After(200 * time.Millisecond):
	}
}

// startFront opens a Front listening on spec (a %d for a free port).
func startFront(t *testing.T, spec string, opts Options, mode TLSMode) (*Front, *recorder, string) {
	t.Helper()
	port := e2etest.FreePort(t)
	r, err := engine.New(e2etest.BaseConfig(t), []engine.Listener{{Port: port}})
	if err != nil {
		t.Fatal(err)
	}
	opts.Listen = []string{fmt.Sprintf(spec, port)}
	rec := newRecorder()
	f := NewFront(r, opts, mode, rec)
	if err := f.Open(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = f.Stop(context.Background())
		f.CloseListeners()
	})
	return f, rec, fmt.Sprintf("127.0.0.1:%d", port)
}

func eventually(t *testing.T, what string, ok func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !ok(); {
		if time.Now().After(deadline) {
			t.Fatal(what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// dial connects to addr and closes the connection when the test ends.
func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// Over the cap a connection is closed at once and never handed over; a
// released count admits the next one.
func TestAcceptUnderTheCap(t *testing.T) {
	f, rec, addr := startFront(t, "tcp://127.0.0.1:%d", Options{MaxConns: 2}, TLSStream)
	dial(t, addr)
	dial(t, addr)
	ca, cb := rec.next(t, rec.served), rec.next(t, rec.served)
	if f.Conns() != 2 || ca.Listener.Secure || ca.Listener.Port == 0 || ca.Session != nil {
		t.Fatalf("conns %d, handed %+v", f.Conns(), ca)
	}
	if ca.Source != netip.MustParseAddr("127.0.0.1") || ca.Remote.Port() == 0 {
		t.Fatalf("source %v remote %v", ca.Source, ca.Remote)
	}
	over := dial(t, addr)
	over.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := over.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("over the cap: %v", err)
	}
	rec.none(t, rec.served)
	cb.Socket.Close()
	f.Release(cb.Source)
	dial(t, addr)
	rec.next(t, rec.served)
	if f.Conns() != 2 {
		t.Fatalf("conns %d", f.Conns())
	}
}

// TLS listeners hand over a connection past its handshake, in the form
// the driver's TLS mode asks for.
func TestTLSModes(t *testing.T) {
	cert, pem, _, err := tlsshim.SelfSigned(nil, []net.IP{net.IPv4(127, 0, 0, 1)}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(pem)
	opts := Options{TLS: &tlsshim.Options{Server: func() *tls.Config {
		return &tls.Config{Certificates: []tls.Certificate{cert}}
	}}}
	for _, mode := range []TLSMode{TLSStream, TLSFed} {
		t.Run(mode.String(), func(t *testing.T) {
			f, rec, addr := startFront(t, "tls://127.0.0.1:%d", opts, mode)
			tc, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: roots, ServerName: "127.0.0.1"})
			if err != nil {
				t.Fatal(err)
			}
			defer tc.Close()
			c := rec.next(t, rec.served)
			_, isTLS := c.Socket.(*tls.Conn)
			if !c.Listener.Secure || (mode == TLSFed) != (c.Session != nil) || (mode == TLSStream) != isTLS {
				t.Fatalf("mode %d: handed %T, session %v, listener %+v", mode, c.Socket, c.Session != nil, c.Listener)
			}
			if f.Conns() != 1 {
				t.Fatalf("conns %d", f.Conns())
			}
		})
	}
}

// A failed handshake gives its count back and hands nothing over.
func TestFailedHandshakeReleases(t *testing.T) {
	opts := Options{TLS: &tlsshim.Options{Server: func() *tls.Config { return &tls.Config{} }}}
	f, rec, addr := startFront(t, "tls://127.0.0.1:%d", opts, TLSFed)
	c := dial(t, addr)
	c.Write([]byte("MSRP is not TLS\r\n"))
	eventually(t, "the count given back", func() bool { return f.Conns() == 0 })
	rec.none(t, rec.served)
}

// A dial hands over the connection with the next hop's name as a relay's;
// a failed one ends the engine's Conn and gives its count back.
func TestDial(t *testing.T) {
	f, rec, _ := startFront(t, "tcp://127.0.0.1:%d", Options{}, TLSStream)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	ec, _ := enginetest.Open(f.relay, engine.Listener{}, engine.PeerInfo{})
	f.Dial(ec, ln.Addr().String(), false, "")
	c := rec.next(t, rec.attached)
	if c.Source.IsValid() || c.Remote.String() != ln.Addr().String() || f.Conns() != 1 {
		t.Fatalf("handed %+v, conns %d", c, f.Conns())
	}
	c.Socket.Close()
	f.Release(c.Source)

	closed := e2etest.FreePort(t)
	f.Dial(ec, fmt.Sprintf("127.0.0.1:%d", closed), false, "")
	eventually(t, "the count given back", func() bool { return f.Conns() == 0 })
	rec.none(t, rec.attached)

	f.Dial(ec, ln.Addr().String(), true, "relay.test")
	rec.none(t, rec.attached)
	if f.Conns() != 0 {
		t.Fatalf("msrps without TLS options counted: %d", f.Conns())
	}
}
