package load

import (
	"bytes"
	"context"
	"io"
	"net"
	"testing"
	"time"
)

// corruptingSplice is a forwarder that, once past the first 2000 bytes
// from alice, changes one filler byte of a body on its way to bob.
func corruptingSplice(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		bob, err := ln.Accept()
		if err != nil {
			return
		}
		alice, err := ln.Accept()
		if err != nil {
			return
		}
		t.Cleanup(func() { bob.Close(); alice.Close() })
		go func() { _, _ = io.Copy(alice, bob) }()
		buf := make([]byte, 32<<10)
		seen, done := 0, false
		for {
			n, err := alice.Read(buf)
			if n > 0 {
				chunk := buf[:n]
				if !done && seen > 2000 {
					if i := bytes.Index(chunk, []byte("klmnop")); i >= 0 {
						chunk[i+2] = 'M'
						done = true
					}
				}
				seen += n
				if _, werr := bob.Write(chunk); werr != nil {
					return
				}
			}
			if err != nil {
				return
			}
		}
	}()
	return ln.Addr().String()
}

// A corrupted body is counted, never delivered and never silent; the
// message it carried is lost, and the run ends at the stall timeout.
func TestCorruptionCounted(t *testing.T) {
	addr := corruptingSplice(t)
	res, err := Run(context.Background(), Target{Name: "bad", Kind: KindForwarder, Addrs: []string{addr}, NoSourceSpread: true},
		Scenario{Pairs: 1, Window: 4, Messages: 200, StallTimeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if res.Errors["corrupt"] != 1 || res.Errors["lost"] != 1 || res.Delivered != 199 || res.Sent != 200 {
		t.Fatalf("delivered %d of %d, errors %v", res.Delivered, res.Sent, res.Errors)
	}
}
