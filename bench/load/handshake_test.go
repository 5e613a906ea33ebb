package load

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net"
	"testing"
	"time"

	"github.com/msrprelay/msrprelay/tlsshim"
)

// tlsEcho is a TLS server that completes handshakes and counts them.
func tlsEcho(t *testing.T) (addr string, client *tls.Config, count chan struct{}) {
	t.Helper()
	cert, certPEM, _, err := tlsshim.SelfSigned(nil, []net.IP{net.IPv4(127, 0, 0, 1)}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	l, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	count = make(chan struct{}, 1<<16)
	go func() {
		for {
			nc, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer nc.Close()
				if nc.(*tls.Conn).Handshake() == nil {
					count <- struct{}{}
				}
			}()
		}
	}()
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(certPEM)
	return l.Addr().String(), &tls.Config{RootCAs: pool}, count
}

func TestHandshakes(t *testing.T) {
	addr, cfg, count := tlsEcho(t)
	res, err := Handshakes(context.Background(), Target{Name: "tls", Kind: KindForwarder, Addrs: []string{addr}, TLS: cfg},
		Scenario{Name: "handshakes", Pairs: 2, Duration: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if res.ErrorCount() != 0 || res.Delivered < 10 || res.Latency.Count != res.Delivered {
		t.Fatalf("%d handshakes (latency count %d), errors %v %s", res.Delivered, res.Latency.Count, res.Errors, res.FirstError)
	}
	time.Sleep(100 * time.Millisecond)
	if got := int64(len(count)); got < res.Delivered-2 {
		t.Fatalf("server finished %d handshakes, client counted %d", got, res.Delivered)
	}
}

// A server whose certificate the client does not trust fails every
// handshake, and the run says so.
func TestHandshakesCountFailures(t *testing.T) {
	addr, _, _ := tlsEcho(t)
	res, err := Handshakes(context.Background(), Target{Name: "tls", Kind: KindForwarder, Addrs: []string{addr}, TLS: &tls.Config{}},
		Scenario{Name: "handshakes", Pairs: 1, Duration: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if res.Delivered != 0 || res.Errors["handshake"] == 0 || res.FirstError == "" {
		t.Fatalf("delivered %d errors %v", res.Delivered, res.Errors)
	}
}
