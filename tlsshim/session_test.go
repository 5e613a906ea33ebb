package tlsshim

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"
)

type pki struct {
	cert tls.Certificate
	pool *x509.CertPool
}

func newPKI(t testing.TB) pki {
	cert, certPEM, _, err := SelfSigned([]string{"relay.test"}, []net.IP{net.IPv4(127, 0, 0, 1)}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(certPEM)
	return pki{cert, pool}
}

// serverPair accepts one loopback connection, handshakes it with Server,
// and returns the session, its raw socket and the client's tls.Conn.
func serverPair(t testing.TB, p pki, clientCfg *tls.Config) (*Session, net.Conn, *tls.Conn) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	type res struct {
		s   *Session
		raw net.Conn
		err error
	}
	ch := make(chan res, 1)
	go func() {
		raw, err := ln.Accept()
		if err != nil {
			ch <- res{err: err}
			return
		}
		s, err := Server(raw, &tls.Config{Certificates: []tls.Certificate{p.cert}, MinVersion: tls.VersionTLS12}, 5*time.Second)
		ch <- res{s, raw, err}
	}()
	if clientCfg == nil {
		clientCfg = &tls.Config{RootCAs: p.pool, ServerName: "relay.test"}
	}
	cc, err := tls.Dial("tcp", ln.Addr().String(), clientCfg)
	if err != nil {
		t.Fatal(err)
	}
	r := <-ch
	if r.err != nil {
		t.Fatal(r.err)
	}
	t.Cleanup(func() { cc.Close(); r.raw.Close(); r.s.Release() })
	return r.s, r.raw, cc
}

// pump reads ciphertext from raw and feeds it, splitting every read into
// pieces of step bytes, until want plaintext bytes arrived.
func pump(t testing.TB, s *Session, raw net.Conn, want int, step int) []byte {
	var plain []byte
	buf := make([]byte, 64<<10)
	raw.SetReadDeadline(time.Now().Add(5 * time.Second))
	for len(plain) < want {
		n, err := raw.Read(buf)
		if err != nil {
			t.Fatalf("read after %d plaintext bytes: %v", len(plain), err)
		}
		for off := 0; off < n; off += step {
			end := min(off+step, n)
			if plain, err = s.Feed(plain, buf[off:end]); err != nil {
				t.Fatal(err)
			}
		}
	}
	return plain
}

// TestFedModeKeepsPartialRecords pins the crypto/tls behaviour the shim
// relies on: a record fed one byte at a time (each Read between bytes
// ends in a temporary error) decrypts, and the connection stays usable.
func TestFedModeKeepsPartialRecords(t *testing.T) {
	for _, version := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		p := newPKI(t)
		s, raw, cc := serverPair(t, p, &tls.Config{RootCAs: p.pool, ServerName: "relay.test", MaxVersion: version})
		if s.State().Version != version {
			t.Fatalf("version %x", s.State().Version)
		}
		msg := bytes.Repeat([]byte("0123456789abcdef"), 5000) // 80 000 bytes: several records
		go cc.Write(msg)
		if got := pump(t, s, raw, len(msg), 1); !bytes.Equal(got, msg) {
			t.Fatalf("TLS %x: got %d bytes", version, len(got))
		}
		// The other way: Seal, then the client reads it.
		if err := s.Seal([]byte("pong")); err != nil {
			t.Fatal(err)
		}
		raw.Write(s.Output())
		s.Written()
		buf := make([]byte, 4)
		cc.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := io.ReadFull(cc, buf); err != nil || string(buf) != "pong" {
			t.Fatalf("client read %q %v", buf, err)
		}
	}
}

func TestSeveralRecordsInOneFeed(t *testing.T) {
	p := newPKI(t)
	s, raw, cc := serverPair(t, p, nil)
	for i := 0; i < 20; i++ {
		cc.Write([]byte("record "))
	}
	time.Sleep(50 * time.Millisecond)
	if got := pump(t, s, raw, 140, 1<<20); string(got) != strings.Repeat("record ", 20) {
		t.Fatalf("%q", got)
	}
}

func TestHandshakeFailures(t *testing.T) {
	p := newPKI(t)
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	defer ln.Close()
	cfg := &tls.Config{Certificates: []tls.Certificate{p.cert}}
	for _, tc := range []struct {
		name string
		send []byte
	}{{"garbage", []byte("MSRP abcd AUTH\r\nTo-Path: x\r\n\r\n")}, {"stall", []byte{0x16, 0x03, 0x01}}} {
		done := make(chan error, 1)
		go func() {
			raw, _ := ln.Accept()
			defer raw.Close()
			_, err := Server(raw, cfg, 300*time.Millisecond)
			done <- err
		}()
		c, _ := net.Dial("tcp", ln.Addr().String())
		c.Write(tc.send)
		start := time.Now()
		select {
		case err := <-done:
			if err == nil {
				t.Fatalf("%s: handshake succeeded", tc.name)
			}
			if time.Since(start) > 2*time.Second {
				t.Fatalf("%s: took %v", tc.name, time.Since(start))
			}
		case <-time.After(3 * time.Second):
			t.Fatalf("%s: handshake did not give up", tc.name)
		}
		c.Close()
	}
}

// TestIdleSessionFloor measures the heap an idle session keeps after a
// small exchange: crypto/tls's own state, the shim holds no buffer.
func TestIdleSessionFloor(t *testing.T) {
	p := newPKI(t)
	const n = 50
	var sessions []*Session
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	for i := 0; i < n; i++ {
		s, raw, cc := serverPair(t, p, nil)
		cc.Write([]byte("hello"))
		pump(t, s, raw, 5, 1<<20)
		s.Seal([]byte("ok"))
		raw.Write(s.Output())
		s.Written()
		if s.ad.in != nil || s.ad.out != nil {
			t.Fatal("shim buffers held by an idle session")
		}
		sessions = append(sessions, s)
	}
	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	per := (int64(after.HeapAlloc) - int64(before.HeapAlloc)) / n
	t.Logf("heap per idle TLS session (server side, both ends of the test in one process, sockets included): %d bytes", per)
	runtime.KeepAlive(sessions)
}
