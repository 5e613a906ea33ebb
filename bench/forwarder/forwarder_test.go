package forwarder

import (
	"io"
	"net"
	"testing"
	"time"
)

func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	return c
}

func roundTrip(t *testing.T, from, to net.Conn, msg string) {
	t.Helper()
	if _, err := from.Write([]byte(msg)); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(to, got); err != nil || string(got) != msg {
		t.Fatalf("got %q, %v; want %q", got, err, msg)
	}
}

func TestSplicesPairs(t *testing.T) {
	f, err := Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	// Dial strictly in order: the forwarder pairs by accept order.
	bob1 := dial(t, f.Addr())
	acceptWait(t)
	alice1 := dial(t, f.Addr())
	acceptWait(t)
	bob2 := dial(t, f.Addr())
	acceptWait(t)
	alice2 := dial(t, f.Addr())
	roundTrip(t, alice1, bob1, "MSRP a SEND one")
	roundTrip(t, bob1, alice1, "MSRP a 200 OK")
	roundTrip(t, alice2, bob2, "to bob two")
	roundTrip(t, bob2, alice2, "to alice two")

	// Closing one side closes its partner.
	alice1.Close()
	if _, err := bob1.Read(make([]byte, 1)); err == nil {
		t.Fatal("bob1 still open after alice1 closed")
	}
	roundTrip(t, alice2, bob2, "still there")
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := bob2.Read(make([]byte, 1)); err == nil {
		t.Fatal("bob2 still open after Close")
	}
}

// acceptWait lets the accept loop take the previous connection before
// the next dial, so the pairing is deterministic.
func acceptWait(t *testing.T) { time.Sleep(20 * time.Millisecond) }
