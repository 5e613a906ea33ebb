package netdrv

import (
	"net"
	"net/netip"
	"testing"
	"time"
)

func TestHandshakesShare(t *testing.T) {
	h := Handshakes{Max: 4, PerSource: 1}
	a, b := netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2")
	// Slots to spare: a source may take more than its share.
	if !h.Acquire(a) || !h.Acquire(a) || !h.Acquire(a) {
		t.Fatal("free slots refused")
	}
	// Three of four taken: a, over its share, is refused; b is not.
	if h.Acquire(a) {
		t.Fatal("per-source share not applied when slots run short")
	}
	if !h.Acquire(b) {
		t.Fatal("another source refused")
	}
	h.Release(a)
	h.Release(a)
	if !h.Acquire(b) {
		t.Fatal("b refused with slots free")
	}
	got := make(chan bool)
	h.Release(b)
	go func() { got <- h.Acquire(b) }()
	select {
	case ok := <-got:
		if !ok {
			t.Fatal("refused after a release")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a freed slot was not taken")
	}
}

func TestWaitFirstByte(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	silent, _ := net.Dial("tcp", ln.Addr().String())
	defer silent.Close()
	s1, _ := ln.Accept()
	defer s1.Close()
	start := time.Now()
	if err := WaitFirstByte(s1, 200*time.Millisecond); err != ErrSilent || time.Since(start) > 5*time.Second {
		t.Fatalf("silent peer: %v after %v", err, time.Since(start))
	}
	talker, _ := net.Dial("tcp", ln.Addr().String())
	defer talker.Close()
	s2, _ := ln.Accept()
	defer s2.Close()
	talker.Write([]byte("x"))
	if err := WaitFirstByte(s2, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 1)
	if n, _ := s2.Read(b); n != 1 || b[0] != 'x' {
		t.Fatal("the byte was consumed")
	}
}
