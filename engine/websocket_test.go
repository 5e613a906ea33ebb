package engine

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// TestMessageEndsFollowTheBytes models an out's pending bytes with frame
// ends marked, taken by a driver that takes a random part each time while
// new frames are queued meanwhile: every end handed to the driver must be
// the offset of a frame end in the bytes it was handed.
func TestMessageEndsFollowTheBytes(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for round := 0; round < 200; round++ {
		m := messageEnds{on: true}
		var pending []byte // the model of out.pending
		var sent []byte    // what the driver took, in order
		var sentEnds []int // ends the driver was told, as offsets in sent
		next := byte(0)
		queue := func() {
			n := 1 + rng.IntN(20)
			for range n {
				pending = append(pending, next)
			}
			pending[len(pending)-1] |= 0x80 // the frame's last byte
			next = (next + 1) & 0x7f
			m.mark(len(pending))
		}
		for step := 0; step < 50; step++ {
			for range rng.IntN(3) {
				queue()
			}
			b, ends := pending, m.take()
			pending = nil
			if !slices.IsSorted(ends) || (len(ends) > 0 && ends[len(ends)-1] > len(b)) {
				t.Fatalf("round %d: ends %v for %d bytes", round, ends, len(b))
			}
			taken := 0
			if len(b) > 0 {
				taken = rng.IntN(len(b) + 1)
			}
			for _, e := range ends {
				if e <= taken {
					sentEnds = append(sentEnds, len(sent)+e)
				}
			}
			sent = append(sent, b[:taken]...)
			for range rng.IntN(2) {
				queue() // queued while the driver wrote
			}
			rest := len(b) - taken
			m.released(taken, rest)
			pending = append(append([]byte(nil), b[taken:]...), pending...)
		}
		var want []int
		for i, c := range sent {
			if c&0x80 != 0 {
				want = append(want, i+1)
			}
		}
		if !slices.Equal(sentEnds, want) {
			t.Fatalf("round %d: driver told ends %v, frames end at %v", round, sentEnds, want)
		}
	}
}

func TestMessageEndsOffRecordsNothing(t *testing.T) {
	var m messageEnds
	m.mark(10)
	if ends := m.take(); ends != nil {
		t.Fatalf("take = %v, want nil", ends)
	}
	m.released(5, 5)
	if m.at != nil || m.given != nil {
		t.Fatalf("state %+v", m)
	}
}

// TestSessionListenerReachable: a session AUTHed over WebSocket gets the
// URI of a listener other relays can dial, of the same security when
// there is one; a relay with only WebSocket listeners names its own.
func TestSessionListenerReachable(t *testing.T) {
	tcp := Listener{Port: 1}
	tls := Listener{Port: 2, Secure: true}
	ws := Listener{Port: 3, WebSocket: true}
	wss := Listener{Port: 4, Secure: true, WebSocket: true}
	tests := []struct {
		name      string
		listeners []Listener
		from      *Listener
		want      int // port
	}{
		{"tcp stays", []Listener{ws, tcp, tls}, &tcp, 1},
		{"wss gets tls", []Listener{wss, tcp, tls}, &wss, 2},
		{"ws gets tcp", []Listener{wss, tls, tcp, ws}, &ws, 1},
		{"ws gets tls without tcp", []Listener{ws, tls}, &ws, 2},
		{"wss alone", []Listener{wss}, &wss, 4},
		{"dialed gets first reachable", []Listener{wss, tls}, nil, 2},
	}
	for _, tc := range tests {
		r := &Relay{listeners: tc.listeners}
		if got := r.sessionListener(tc.from); got == nil || got.Port != tc.want {
			t.Errorf("%s: got %+v, want port %d", tc.name, got, tc.want)
		}
	}
}
