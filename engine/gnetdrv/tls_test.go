package gnetdrv

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/msrprelay/msrprelay/codec"
	"github.com/msrprelay/msrprelay/endpoint"
	"github.com/msrprelay/msrprelay/engine"
	"github.com/msrprelay/msrprelay/engine/e2etest"
	"github.com/msrprelay/msrprelay/engine/netdrv"
	"github.com/msrprelay/msrprelay/tlsshim"
)

// testRelayTLS is one relay with a certificate for 127.0.0.1 and a CA pool
// it trusts for relays (and next hops).
type testRelayTLS struct {
	port    int
	cert    tls.Certificate
	certPEM []byte
	stop    func()
}

func newCert(t testing.TB) (tls.Certificate, []byte) {
	cert, pem, _, err := tlsshim.SelfSigned(nil, []net.IP{net.IPv4(127, 0, 0, 1)}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return cert, pem
}

func poolOf(pems ...[]byte) *x509.CertPool {
	p := x509.NewCertPool()
	for _, pem := range pems {
		p.AppendCertsFromPEM(pem)
	}
	return p
}

func startTLSRelay(t testing.TB, cert tls.Certificate, trust *x509.CertPool) *testRelayTLS {
	cfg := e2etest.BaseConfig(t)
	port := e2etest.FreePort(t)
	r, err := engine.New(cfg, []engine.Listener{{Port: port, Secure: true}})
	if err != nil {
		t.Fatal(err)
	}
	opts := &tlsshim.Options{
		Server: func() *tls.Config {
			return &tls.Config{Certificates: []tls.Certificate{cert}, ClientAuth: tls.RequestClientCert, MinVersion: tls.VersionTLS12}
		},
		Client: func(name string) *tls.Config {
			return &tls.Config{ServerName: name, RootCAs: trust, Certificates: []tls.Certificate{cert}}
		},
		RelayRoots:       func() *x509.CertPool { return trust },
		HandshakeTimeout: 2 * time.Second,
	}
	s := New(r, Options{Options: netdrv.Options{Listen: []string{fmt.Sprintf("tls://127.0.0.1:%d", port)}, TLS: opts, TickInterval: 100 * time.Millisecond, Logger: cfg.Logger}, Loops: 2})
	done := make(chan error, 1)
	go func() { done <- s.Run() }()
	<-s.Started()
	stop := func() { s.Stop(context.Background()); <-done }
	t.Cleanup(stop)
	return &testRelayTLS{port: port, cert: cert, stop: stop}
}

func (r *testRelayTLS) dial(t testing.TB, roots *x509.CertPool) *endpoint.Conn {
	c, err := endpoint.Dial(fmt.Sprintf("127.0.0.1:%d", r.port), &tls.Config{RootCAs: roots, ServerName: "127.0.0.1"}, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(30 * time.Second))
	t.Cleanup(func() { c.Close() })
	return c
}

func (r *testRelayTLS) auth(t testing.TB, roots *x509.CertPool, user string) (*endpoint.Conn, string) {
	c := r.dial(t, roots)
	res, err := c.Auth(endpoint.AuthOptions{RelayURI: fmt.Sprintf("msrps://example.com:%d;tcp", r.port), FromURI: "msrps://" + user + ".example.com:9/x;tcp", User: user, Password: e2etest.Password})
	if err != nil {
		t.Fatal(err)
	}
	return c, res.UsePath
}

// TestTLSSingleHopBothWays: AUTH and SEND over msrps with Go's crypto/tls
// clients; a 16 MiB body each way; Use-Path says msrps.
func TestTLSSingleHopBothWays(t *testing.T) {
	cert, pem := newCert(t)
	r := startTLSRelay(t, cert, poolOf(pem))
	roots := poolOf(pem)
	bob, use := r.auth(t, roots, "bob")
	if !strings.HasPrefix(use, "msrps://127.0.0.1:") {
		t.Fatalf("Use-Path %q", use)
	}
	alice := r.dial(t, roots)
	body := make([]byte, 16<<20)
	rand.Read(body)
	for _, dir := range []struct {
		from, to *endpoint.Conn
		to2      string
		from2    string
	}{{alice, bob, use + " msrps://bob.example.com:9/x;tcp", "msrps://alice.example.com:9/a;tcp"},
		{bob, alice, use + " msrps://alice.example.com:9/a;tcp", "msrps://bob.example.com:9/x;tcp"}} {
		req := endpoint.Request{Method: "SEND", ToPath: dir.to2, FromPath: dir.from2, Headers: [][2]string{{"Message-ID", "big"}, {"Byte-Range", fmt.Sprintf("1-%d/%d", len(body), len(body))}},
			ContentType: "application/octet-stream", Body: body}
		go dir.from.Send(&req)
		var got []byte
		for {
			f, err := dir.to.ReadFrame()
			if err != nil {
				t.Fatal(err)
			}
			if f.Method != "SEND" {
				continue
			}
			got = append(got, f.Body...)
			dir.to.Respond(f, 200, "OK")
			if f.Flag == '$' {
				break
			}
		}
		if !bytes.Equal(got, body) {
			t.Fatalf("body differs (%d bytes)", len(got))
		}
	}
}

// TestTLSTwoRelaysMutual: relay A reaches relay B over msrps, each verifying
// the other's certificate; B sees A as a relay (From-Path has two URIs).
func TestTLSTwoRelaysMutual(t *testing.T) {
	certA, pemA := newCert(t)
	certB, pemB := newCert(t)
	trust := poolOf(pemA, pemB)
	a := startTLSRelay(t, certA, trust)
	b := startTLSRelay(t, certB, trust)
	alice, useA := a.auth(t, poolOf(pemA), "alice")
	bob, useB := b.auth(t, poolOf(pemB), "bob")
	req := endpoint.Request{Method: "SEND", ToPath: useA + " " + useB + " msrps://bob.example.com:9/x;tcp", FromPath: "msrps://alice.example.com:9/x;tcp",
		Headers: [][2]string{{"Message-ID", "m"}, {"Byte-Range", "1-5/5"}}, ContentType: "text/plain", Body: []byte("hello")}
	alice.Send(&req)
	f, err := bob.ReadFrame()
	if err != nil || string(f.Body) != "hello" || f.Header("From-Path") != useB+" "+useA+" msrps://alice.example.com:9/x;tcp" {
		t.Fatalf("%v %+v", err, f)
	}
}

// TestTLSUntrustedRelayGets403: relay A's certificate is not one B trusts,
// so B treats A as an endpoint, and a request claiming to come through a
// relay is refused; alice learns it from a REPORT.
func TestTLSUntrustedRelayGets403(t *testing.T) {
	certA, pemA := newCert(t)
	certB, pemB := newCert(t)
	a := startTLSRelay(t, certA, poolOf(pemA, pemB)) // A trusts B
	b := startTLSRelay(t, certB, poolOf(pemB))       // B does not trust A
	alice, useA := a.auth(t, poolOf(pemA), "alice")
	_, useB := b.auth(t, poolOf(pemB), "bob")
	req := endpoint.Request{Method: "SEND", ToPath: useA + " " + useB + " msrps://bob.example.com:9/x;tcp", FromPath: "msrps://alice.example.com:9/x;tcp",
		Headers: [][2]string{{"Message-ID", "m403"}, {"Byte-Range", "1-5/5"}}, ContentType: "text/plain", Body: []byte("hello")}
	alice.Send(&req)
	for {
		f, err := alice.ReadFrame()
		if err != nil {
			t.Fatal(err)
		}
		if f.Method == "REPORT" {
			if !strings.HasPrefix(f.Header("Status"), "000 403") {
				t.Fatalf("REPORT status %q", f.Header("Status"))
			}
			return
		}
	}
}

// TestTLSGarbageAndStall: a plain-text client and a silent one on the TLS
// port are dropped; the relay keeps serving.
func TestTLSGarbageAndStall(t *testing.T) {
	cert, pem := newCert(t)
	r := startTLSRelay(t, cert, poolOf(pem))
	addr := fmt.Sprintf("127.0.0.1:%d", r.port)
	plain, _ := net.Dial("tcp", addr)
	plain.Write([]byte("MSRP abcd AUTH\r\nTo-Path: msrp://x;tcp\r\nFrom-Path: msrp://y;tcp\r\n-------abcd$\r\n"))
	silent, _ := net.Dial("tcp", addr)
	for _, c := range []net.Conn{plain, silent} {
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := c.Read(make([]byte, 1024)); err == nil {
			// a TLS alert is fine; then it must close
			if _, err := c.Read(make([]byte, 1024)); err == nil {
				t.Fatal("connection kept open")
			}
		} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
			t.Fatal("connection not closed")
		}
	}
	r.auth(t, poolOf(pem), "alice")
}

// A file over msrps into receivers slower than the sender: the relay pauses
// the sender while gnet holds the sealed records and must resume it once
// gnet has drained them (that resume once went missing and the transfer
// stalled).
func TestTLSFileIntoSlowReceivers(t *testing.T) {
	cert, pem := newCert(t)
	r := startTLSRelay(t, cert, poolOf(pem))
	roots := poolOf(pem)
	const size, chunk, rate = 8 << 20, 32 << 10, 16 << 20
	file := make([]byte, size)
	rand.Read(file)
	errs := make(chan error, 4)
	for i := range 2 {
		bob, use := r.auth(t, roots, "bob")
		alice := r.dial(t, roots)
		to, from := use+" msrps://bob.example.com:9/x;tcp", fmt.Sprintf("msrps://alice%d.example.com:9/a;tcp", i)
		go func() { errs <- sendFile(alice, to, from, file, chunk) }()
		go func() { errs <- receiveSlowly(bob, file, rate) }()
	}
	for range 4 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}

// sendFile sends file over c as one message in chunks of chunkSize, all
// at once, and waits for a 200 to each.
func sendFile(c *endpoint.Conn, to, from string, file []byte, chunkSize int) error {
	answered := make(chan error, 1)
	go func() { answered <- expectOKs(c, (len(file)+chunkSize-1)/chunkSize) }()
	ch := endpoint.Chunk{ToPath: to, FromPath: from, MessageID: endpoint.NewTID(), ContentType: "application/octet-stream"}
	var wire []byte
	for off := 0; off < len(file); off += chunkSize {
		body := file[off:min(off+chunkSize, len(file))]
		ch.Range = codec.ByteRange{Start: int64(off) + 1, End: int64(off + len(body)), Total: int64(len(file))}
		flag := byte('+')
		if off+len(body) == len(file) {
			flag = '$'
		}
		tid := endpoint.NewTIDFor(body)
		wire = append(ch.AppendHeader(wire[:0], tid), body...)
		if err := c.Write(codec.AppendBodyEnd(wire, []byte(tid), flag)); err != nil {
			return fmt.Errorf("sender: %w", err)
		}
	}
	return <-answered
}

func expectOKs(c *endpoint.Conn, n int) error {
	for range n {
		f, err := c.ReadFrame()
		if err != nil {
			return fmt.Errorf("sender: %w", err)
		}
		if f.Method != "" || f.Code != 200 {
			return fmt.Errorf("sender got %q %d %s", f.Method, f.Code, f.Comment)
		}
	}
	return nil
}

// receiveSlowly reads one file at rate bytes per second, answering every
// piece, and checks it arrived whole. A transfer that stalls for 3 s fails
// at once rather than at the connection's deadline.
func receiveSlowly(c *endpoint.Conn, file []byte, rate float64) error {
	rd := c.Reader()
	rd.Throttle(rate)
	rd.SetIdle(3 * time.Second)
	got := make(endpoint.SliceAt, len(file))
	msg := endpoint.NewAssembly(got, int64(len(file)))
	for !msg.Complete() {
		f, err := rd.ReadHead()
		if err != nil {
			return fmt.Errorf("receiver, %d of %d bytes in: %w", msg.Received(), len(file), err)
		}
		br, err := codec.ParseByteRange([]byte(f.Header("Byte-Range")))
		if f.Method != "SEND" || err != nil || !f.HasBody {
			return fmt.Errorf("receiver got %q %d (Byte-Range %q)", f.Method, f.Code, f.Header("Byte-Range"))
		}
		before := msg.Received()
		flag, werr, err := rd.Body(msg.Writer(br.Start))
		if err != nil || werr != nil {
			return fmt.Errorf("receiver: %v %v", err, werr)
		}
		msg.ChunkDone(flag, br.Start, msg.Received()-before)
		if err := c.Respond(f, 200, "OK"); err != nil {
			return fmt.Errorf("receiver: %w", err)
		}
	}
	if !bytes.Equal(got, file) {
		return errors.New("receiver: the file arrived changed")
	}
	return nil
}
