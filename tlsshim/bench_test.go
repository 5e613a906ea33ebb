package tlsshim

import (
	"crypto/tls"
	"net"
	"testing"
	"time"
)

// BenchmarkHandshake is server handshakes per second over loopback, the
// client on the same machine (ECDSA P-256 certificate, TLS 1.3, X25519).
func BenchmarkHandshake(b *testing.B) {
	p := newPKI(b)
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	defer ln.Close()
	cfg := &tls.Config{Certificates: []tls.Certificate{p.cert}}
	go func() {
		for {
			raw, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				s, err := Server(raw, cfg, 5*time.Second)
				if err == nil {
					s.Release()
				}
				raw.Close()
			}()
		}
	}()
	ccfg := &tls.Config{RootCAs: p.pool, ServerName: "relay.test"}
	b.ResetTimer()
	for b.Loop() {
		c, err := tls.Dial("tcp", ln.Addr().String(), ccfg)
		if err != nil {
			b.Fatal(err)
		}
		c.Close()
	}
}

// BenchmarkSeal is the fed-mode cost of encrypting 4 KiB for the socket
// (AES-GCM record, handed over through the pooled output buffer).
func BenchmarkSeal(b *testing.B) {
	p := newPKI(b)
	s, _, _ := serverPair(b, p, nil)
	msg := make([]byte, 4096)
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	for b.Loop() {
		if err := s.Seal(msg); err != nil {
			b.Fatal(err)
		}
		_ = s.Output()
		s.Written()
	}
}

// fedPair is a client and a server session over one loopback connection,
// both in fed mode: what one seals the other can be fed.
func fedPair(b *testing.B, p pki) (client, server *Session) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	type res struct {
		s   *Session
		err error
	}
	ch := make(chan res, 1)
	go func() {
		raw, err := ln.Accept()
		if err != nil {
			ch <- res{err: err}
			return
		}
		b.Cleanup(func() { raw.Close() })
		s, err := Server(raw, &tls.Config{Certificates: []tls.Certificate{p.cert}}, 5*time.Second)
		ch <- res{s, err}
	}()
	raw, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { raw.Close() })
	client, err = Client(raw, &tls.Config{RootCAs: p.pool, ServerName: "relay.test"}, 5*time.Second)
	if err != nil {
		b.Fatal(err)
	}
	r := <-ch
	if r.err != nil {
		b.Fatal(r.err)
	}
	b.Cleanup(func() { client.Release(); r.s.Release() })
	return client, r.s
}

// BenchmarkFeed is the fed-mode cost of decrypting a 4 KiB record (the
// ciphertext goes through the pooled input buffer), sealing included.
func BenchmarkFeed(b *testing.B) {
	client, server := fedPair(b, newPKI(b))
	msg := make([]byte, 4096)
	plain := make([]byte, 0, 64<<10)
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	for b.Loop() {
		if err := client.Seal(msg); err != nil {
			b.Fatal(err)
		}
		var err error
		if plain, err = server.Feed(plain[:0], client.Output()); err != nil || len(plain) != len(msg) {
			b.Fatalf("%d bytes, %v", len(plain), err)
		}
		client.Written()
	}
}
