package gnetdrv

import (
	"crypto/tls"
	"fmt"
	"testing"
	"time"

	"github.com/msrprelay/msrprelay/endpoint"
	"github.com/msrprelay/msrprelay/engine/e2etest"
)

// benchPair is alice and bob on one relay, bob's session bound to alice.
type benchPair struct {
	alice, bob *endpoint.Conn
	req        endpoint.Request
	wire       []byte
}

func newBenchPair(b *testing.B, addr, scheme string, port int, cfg *tls.Config) *benchPair {
	return newBenchPairOver(b, endpoint.Dial, addr, scheme, "tcp", port, cfg)
}

// newBenchPairOver is newBenchPair with clients made by dial (TCP or
// WebSocket) speaking transport in their URIs.
func newBenchPairOver(b *testing.B, dialer func(string, *tls.Config, time.Duration) (*endpoint.Conn, error), addr, scheme, transport string, port int, cfg *tls.Config) *benchPair {
	dial := func() *endpoint.Conn {
		c, err := dialer(addr, cfg, 5*time.Second)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { c.Close() })
		return c
	}
	bob := dial()
	res, err := bob.Auth(endpoint.AuthOptions{RelayURI: fmt.Sprintf("%s://example.com:%d;%s", scheme, port, transport), FromURI: scheme + "://bob.example.com:9/b;" + transport, User: "bob", Password: e2etest.Password})
	if err != nil {
		b.Fatal(err)
	}
	p := &benchPair{alice: dial(), bob: bob}
	p.req = endpoint.Request{Method: "SEND", ToPath: res.UsePath + " " + scheme + "://bob.example.com:9/b;tcp", FromPath: scheme + "://alice.example.com:9/a;tcp",
		Headers: [][2]string{{"Message-ID", "bench"}, {"Byte-Range", "1-100/100"}}, ContentType: "text/plain", Body: make([]byte, 100), TID: "benchtid00000001"}
	p.wire = p.req.Append(nil)
	return p
}

// roundTrip: alice's SEND in, bob receives it and answers, alice gets her
// hop-by-hop 200: one chunk's forwarding latency plus the relay's answers.
func (p *benchPair) roundTrip(b *testing.B) {
	if err := p.alice.Write(p.wire); err != nil {
		b.Fatal(err)
	}
	f, err := p.bob.ReadFrame()
	if err != nil {
		b.Fatal(err)
	}
	p.bob.Respond(f, 200, "OK")
	if _, err := p.alice.ReadFrame(); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkChunkLatency is the per-chunk round trip (100-byte SEND) through
// the gnet relay over plain TCP and over TLS, on loopback with the client
// on the same 2 cores. Compare the two: the difference is the TLS cost.
func BenchmarkChunkLatency(b *testing.B) {
	b.Run("tcp", func(b *testing.B) {
		port := e2etest.FreePort(b)
		startGnet(b, e2etest.BaseConfig(b), port, e2etest.DriverOptions{})
		p := newBenchPair(b, fmt.Sprintf("127.0.0.1:%d", port), "msrp", port, nil)
		for b.Loop() {
			p.roundTrip(b)
		}
	})
	b.Run("ws", func(b *testing.B) {
		port, wsPort := e2etest.FreePort(b), e2etest.FreePort(b)
		startGnet(b, e2etest.BaseConfig(b), port, e2etest.DriverOptions{WSPort: wsPort})
		p := newBenchPairOver(b, endpoint.DialWS, fmt.Sprintf("127.0.0.1:%d", wsPort), "msrp", "ws", wsPort, nil)
		for b.Loop() {
			p.roundTrip(b)
		}
	})
	b.Run("tls", func(b *testing.B) {
		cert, pem := newCert(b)
		r := startTLSRelay(b, cert, poolOf(pem))
		p := newBenchPair(b, fmt.Sprintf("127.0.0.1:%d", r.port), "msrps", r.port, &tls.Config{RootCAs: poolOf(pem), ServerName: "127.0.0.1"})
		for b.Loop() {
			p.roundTrip(b)
		}
	})
}
