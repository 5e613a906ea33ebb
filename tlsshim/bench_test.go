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
