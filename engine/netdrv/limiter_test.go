package netdrv

import (
	"net/netip"
	"testing"
)

func TestLimiter(t *testing.T) {
	a, b := netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2")
	l := Limiter{Max: 3, PerSource: 2}
	if !l.Admit(a) || !l.Admit(a) || l.Admit(a) {
		t.Fatal("per-source cap")
	}
	if !l.Admit(netip.Addr{}) || l.Admit(b) {
		t.Fatal("total cap")
	}
	l.Release(a)
	if !l.Admit(b) || l.Count() != 3 {
		t.Fatalf("after release: %d", l.Count())
	}
	l.Drain()
	l.Release(b)
	if l.Admit(b) {
		t.Fatal("draining admits")
	}
	var zero Limiter
	for i := 0; i < 100; i++ {
		if !zero.Admit(a) {
			t.Fatal("zero value refuses")
		}
	}
}

func TestListen(t *testing.T) {
	lns, err := Listen([]string{"127.0.0.1:0", "tcp://127.0.0.1:0"}, false)
	if err != nil || len(lns) != 2 || lns[0].Kind != Plain || lns[1].Kind != Plain {
		t.Fatalf("%v %v", lns, err)
	}
	for _, l := range lns {
		l.Close()
	}
	if _, err := Listen([]string{"tls://127.0.0.1:0"}, false); err == nil {
		t.Fatal("tls without TLS options accepted")
	}
	if _, err := Listen([]string{"udp://127.0.0.1:0"}, true); err == nil {
		t.Fatal("udp accepted")
	}
	lns, err = Listen([]string{"tls://127.0.0.1:0"}, true)
	if err != nil || lns[0].Kind != TLS {
		t.Fatalf("%v %v", lns, err)
	}
	lns[0].Close()
}
