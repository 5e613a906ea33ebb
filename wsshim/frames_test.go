package wsshim

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/gobwas/ws"
)

// RFC 6455 §5.7 examples, as the server reads them (client frames, masked)
// and writes them (server frames, unmasked; binary where the RFC's text
// examples say text, see the package doc).
func TestRFC6455Examples(t *testing.T) {
	t.Run("masked text Hello", func(t *testing.T) {
		s := open(t, &msrpConfig)
		wire := []byte{0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58}
		dst, err := s.Feed(nil, wire)
		if err != nil || string(dst) != "Hello" || len(s.Output()) != 0 {
			t.Fatalf("payload %q, err %v, output %x", dst, err, s.Output())
		}
	})
	t.Run("masked ping answered by unmasked pong", func(t *testing.T) {
		s := open(t, &msrpConfig)
		wire := []byte{0x89, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58}
		dst, err := s.Feed(nil, wire)
		want := []byte{0x8a, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f}
		if err != nil || len(dst) != 0 || !bytes.Equal(s.Output(), want) {
			t.Fatalf("payload %q, err %v, output %x, want %x", dst, err, s.Output(), want)
		}
	})
	t.Run("masked pong ignored", func(t *testing.T) {
		s := open(t, &msrpConfig)
		wire := []byte{0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58}
		dst, err := s.Feed(nil, wire)
		if err != nil || len(dst) != 0 || len(s.Output()) != 0 {
			t.Fatalf("payload %q, err %v, output %x", dst, err, s.Output())
		}
	})
	writes := []struct {
		name string
		do   func(s *Session)
		want []byte
	}{
		{
			name: "single frame",
			do:   func(s *Session) { s.Write([]byte("Hello"), true) },
			want: []byte{0x82, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f},
		},
		{
			name: "fragmented",
			do: func(s *Session) {
				s.Write([]byte("Hel"), false)
				s.Write([]byte("lo"), true)
			},
			want: []byte{0x02, 0x03, 0x48, 0x65, 0x6c, 0x80, 0x02, 0x6c, 0x6f},
		},
		{
			name: "256 bytes",
			do:   func(s *Session) { s.Write(make([]byte, 256), true) },
			want: append([]byte{0x82, 0x7e, 0x01, 0x00}, make([]byte, 256)...),
		},
		{
			name: "64 KiB",
			do:   func(s *Session) { s.Write(make([]byte, 65536), true) },
			want: append([]byte{0x82, 0x7f, 0, 0, 0, 0, 0, 1, 0, 0}, make([]byte, 65536)...),
		},
		{
			name: "empty final continuation",
			do: func(s *Session) {
				s.Write([]byte("Hel"), false)
				s.Write(nil, false)
				s.Write(nil, true)
			},
			want: []byte{0x02, 0x03, 0x48, 0x65, 0x6c, 0x80, 0x00},
		},
		{
			name: "ping inside a fragmented message",
			do: func(s *Session) {
				s.Write([]byte("Hel"), false)
				s.Ping()
				s.Write([]byte("lo"), true)
				s.Write([]byte("!"), true)
			},
			want: []byte{0x02, 0x03, 0x48, 0x65, 0x6c, 0x89, 0x00, 0x80, 0x02, 0x6c, 0x6f, 0x82, 0x01, 0x21},
		},
		{
			name: "close, then nothing",
			do: func(s *Session) {
				s.Close(1001, "going")
				s.Write([]byte("late"), true)
				s.Ping()
				s.Close(1000, "")
			},
			want: []byte{0x88, 0x07, 0x03, 0xe9, 'g', 'o', 'i', 'n', 'g'},
		},
	}
	for _, tt := range writes {
		t.Run("write "+tt.name, func(t *testing.T) {
			s := open(t, &msrpConfig)
			tt.do(s)
			if !bytes.Equal(s.Output(), tt.want) {
				t.Fatalf("output %x\nwant   %x", s.Output(), tt.want)
			}
			s.Written()
			if s.Output() != nil {
				t.Fatal("output kept after Written")
			}
		})
	}
}

// The frames of one message, with a ping among them, give the message's
// payload in order; text and binary messages alike.
func TestContinuationsJoined(t *testing.T) {
	s := open(t, &msrpConfig)
	var wire []byte
	wire = append(wire, masked(ws.OpText, false, "MSRP a SEND\r\n")...)
	wire = append(wire, masked(ws.OpPing, true, "k")...)
	wire = append(wire, masked(ws.OpContinuation, false, "")...)
	wire = append(wire, masked(ws.OpContinuation, true, "-------a$\r\n")...)
	wire = append(wire, masked(ws.OpBinary, false, "MSRP b 200 OK\r\n")...)
	wire = append(wire, masked(ws.OpContinuation, true, "-------b$\r\n")...)
	dst, err := s.Feed(nil, wire)
	if err != nil {
		t.Fatal(err)
	}
	if want := "MSRP a SEND\r\n-------a$\r\nMSRP b 200 OK\r\n-------b$\r\n"; string(dst) != want {
		t.Fatalf("payload %q, want %q", dst, want)
	}
	if want := []byte{0x8a, 0x01, 'k'}; !bytes.Equal(s.Output(), want) {
		t.Fatalf("output %x, want pong %x", s.Output(), want)
	}
}

// Frames of every length class, fed one byte at a time and at random
// cuts, come out whole and in order.
func TestSplitAnywhere(t *testing.T) {
	var wire, want []byte
	rng := rand.New(rand.NewPCG(1, 2))
	inMsg := false // a message is open: continuations next
	for i, n := range []int{0, 1, 125, 126, 127, 200, 65535, 65536, 70000} {
		p := make([]byte, n)
		for j := range p {
			p[j] = byte(rng.Uint32())
		}
		mask := [4]byte{byte(i), 0x5a, 0xa5, byte(n)}
		op := ws.OpBinary
		if inMsg {
			op = ws.OpContinuation
		}
		inMsg = i%2 == 1
		wire = append(wire, clientFrame(op, !inMsg, p, mask)...)
		want = append(want, p...)
		if i%3 == 0 {
			wire = append(wire, clientFrame(ws.OpPing, true, []byte("ping"), mask)...)
		}
	}
	wire = append(wire, clientFrame(ws.OpText, true, []byte("end"), testMask)...)
	want = append(want, "end"...)
	cuts := map[string]func(left int) int{
		"byte by byte": func(int) int { return 1 },
		"random":       func(left int) int { return 1 + rng.IntN(min(left, 3000)) },
		"whole":        func(left int) int { return left },
	}
	for name, cut := range cuts {
		t.Run(name, func(t *testing.T) {
			s := open(t, &msrpConfig)
			var dst, sent []byte
			for rest := wire; len(rest) > 0; {
				n := cut(len(rest))
				var err error
				dst, err = s.Feed(dst, rest[:n])
				if err != nil {
					t.Fatal(err)
				}
				rest = rest[n:]
				sent = append(sent, s.Output()...)
				s.Written()
			}
			if !bytes.Equal(dst, want) {
				t.Fatalf("payload differs: %d bytes, want %d", len(dst), len(want))
			}
			// A pong per ping, except that pings arriving while a pong
			// still waits in Output get none.
			n := bytes.Count(sent, []byte{0x8a, 0x04, 'p', 'i', 'n', 'g'})
			if n < 1 || n > 3 || (name == "byte by byte" && n != 3) {
				t.Fatalf("%d pongs for 3 pings", n)
			}
		})
	}
}

func TestProtocolErrors(t *testing.T) {
	small := Config{Protocol: "msrp", MaxFrame: 100, MaxMessage: 150}
	unmasked := []byte{0x82, 0x02, 'h', 'i'}
	tests := []struct {
		name string
		cfg  Config
		wire [][]byte
		code uint16
		err  error
	}{
		{name: "unmasked client frame", wire: [][]byte{unmasked}, code: 1002, err: ErrProtocol},
		{name: "reserved bits", wire: [][]byte{rsv(masked(ws.OpText, true, "x"))}, code: 1002, err: ErrProtocol},
		{name: "reserved data opcode", wire: [][]byte{masked(0x3, true, "x")}, code: 1002, err: ErrProtocol},
		{name: "reserved control opcode", wire: [][]byte{masked(0xb, true, "")}, code: 1002, err: ErrProtocol},
		{name: "continuation without a start", wire: [][]byte{masked(ws.OpContinuation, true, "x")}, code: 1002, err: ErrProtocol},
		{
			name: "data frame inside a fragmented message",
			wire: [][]byte{masked(ws.OpText, false, "a"), masked(ws.OpBinary, true, "b")},
			code: 1002,
			err:  ErrProtocol,
		},
		{name: "control frame over 125 bytes", wire: [][]byte{masked(ws.OpPing, true, strings.Repeat("p", 126))}, code: 1002, err: ErrProtocol},
		{name: "fragmented control frame", wire: [][]byte{masked(ws.OpPing, false, "p")}, code: 1002, err: ErrProtocol},
		{name: "64-bit length with its top bit set", wire: [][]byte{{0x82, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4}}, code: 1002, err: ErrProtocol},
		{name: "close with a one-byte body", wire: [][]byte{masked(ws.OpClose, true, "x")}, code: 1002, err: ErrProtocol},
		{name: "close with a reserved code", wire: [][]byte{masked(ws.OpClose, true, closeBody(1005, ""))}, code: 1002, err: ErrProtocol},
		{name: "close reason not UTF-8", wire: [][]byte{masked(ws.OpClose, true, closeBody(1000, "\xff"))}, code: 1002, err: ErrProtocol},
		{name: "frame too big", cfg: small, wire: [][]byte{masked(ws.OpBinary, true, strings.Repeat("b", 101))}, code: 1009, err: ErrTooBig},
		{
			name: "frame too big, told by its header alone",
			cfg:  small,
			wire: [][]byte{{0x82, 0xff, 0, 0, 0, 1, 0, 0, 0, 0, 1, 2, 3, 4}},
			code: 1009,
			err:  ErrTooBig,
		},
		{
			name: "message too big across frames",
			cfg:  small,
			wire: [][]byte{masked(ws.OpText, false, strings.Repeat("a", 100)), masked(ws.OpContinuation, true, strings.Repeat("a", 51))},
			code: 1009,
			err:  ErrTooBig,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := tt.cfg
			if cfg.Protocol == "" {
				cfg = msrpConfig
			}
			s := open(t, &cfg)
			var err error
			for _, w := range tt.wire {
				if _, err = s.Feed(nil, w); err != nil {
					break
				}
			}
			if !errors.Is(err, tt.err) {
				t.Fatalf("error %v, want %v", err, tt.err)
			}
			if got := closeCode(t, s.Output()); got != tt.code {
				t.Fatalf("close code %d, want %d (output %x)", got, tt.code, s.Output())
			}
			s.Written()
			if _, again := s.Feed(nil, masked(ws.OpText, true, "after")); again != err {
				t.Fatalf("Feed after the error: %v", again)
			}
			s.Write([]byte("late"), true)
			if len(s.Output()) != 0 {
				t.Fatalf("wrote %x after the error", s.Output())
			}
		})
	}
}

// A message within the limits resets the count: limits are per message.
func TestMessageLimitIsPerMessage(t *testing.T) {
	s := open(t, &Config{Protocol: "msrp", MaxFrame: 100, MaxMessage: 150})
	for range 10 {
		if _, err := s.Feed(nil, masked(ws.OpText, false, strings.Repeat("a", 100))); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Feed(nil, masked(ws.OpContinuation, true, strings.Repeat("a", 50))); err != nil {
			t.Fatal(err)
		}
	}
}

func TestCloseHandshake(t *testing.T) {
	tests := []struct {
		name string
		body string
		want []byte
	}{
		{name: "with a code, echoed", body: closeBody(1000, "bye"), want: []byte{0x88, 0x02, 0x03, 0xe8}},
		{name: "going away", body: closeBody(1001, ""), want: []byte{0x88, 0x02, 0x03, 0xe9}},
		{name: "without a body", body: "", want: []byte{0x88, 0x00}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := open(t, &msrpConfig)
			wire := append(masked(ws.OpText, true, "last"), masked(ws.OpClose, true, tt.body)...)
			wire = append(wire, masked(ws.OpText, true, "ignored")...)
			dst, err := s.Feed(nil, wire)
			if !errors.Is(err, ErrClosed) || string(dst) != "last" {
				t.Fatalf("payload %q, err %v", dst, err)
			}
			if !bytes.Equal(s.Output(), tt.want) {
				t.Fatalf("output %x, want %x", s.Output(), tt.want)
			}
		})
	}
}

// After the server's own close, a ping gets no pong: nothing follows a
// close frame.
func TestNoPongAfterClose(t *testing.T) {
	s := open(t, &msrpConfig)
	s.Close(1001, "")
	s.Written()
	dst, err := s.Feed(nil, append(masked(ws.OpPing, true, "p"), masked(ws.OpText, true, "still read")...))
	if err != nil || string(dst) != "still read" || len(s.Output()) != 0 {
		t.Fatalf("payload %q, err %v, output %x", dst, err, s.Output())
	}
}

// WriteMessages ends a message at each offset given and leaves the rest
// open for the next call.
func TestWriteMessages(t *testing.T) {
	s := open(t, &msrpConfig)
	s.WriteMessages([]byte("onetwothr"), []int{3, 6})
	s.WriteMessages([]byte("ee"), []int{2})
	s.WriteMessages([]byte("four"), []int{4})
	want := []byte{0x82, 3, 'o', 'n', 'e', 0x82, 3, 't', 'w', 'o', 0x02, 3, 't', 'h', 'r', 0x80, 2, 'e', 'e', 0x82, 4, 'f', 'o', 'u', 'r'}
	if !bytes.Equal(s.Output(), want) {
		t.Fatalf("output %x\nwant   %x", s.Output(), want)
	}
}

// After the server's own close, the client's answer gets no second close.
func TestServerInitiatedClose(t *testing.T) {
	s := open(t, &msrpConfig)
	s.Close(1000, "")
	s.Written()
	_, err := s.Feed(nil, masked(ws.OpClose, true, closeBody(1000, "")))
	if !errors.Is(err, ErrClosed) || len(s.Output()) != 0 {
		t.Fatalf("err %v, output %x", err, s.Output())
	}
}

func TestCloseReasonCutOnRuneBoundary(t *testing.T) {
	s := open(t, &msrpConfig)
	s.Close(1008, strings.Repeat("é", 100))
	out := s.Output()
	if len(out) > 2+125 || out[1] > 125 {
		t.Fatalf("close frame of %d bytes", len(out))
	}
	if err := ws.CheckCloseFrameData(1008, string(out[4:])); err != nil {
		t.Fatal(err)
	}
}

// rsv sets RSV1 on a frame.
func rsv(frame []byte) []byte {
	frame[0] |= 0x40
	return frame
}

// TestPingFloodBounded: a peer that pings and never reads gets one pong
// waiting in Output, not one per ping.
func TestPingFloodBounded(t *testing.T) {
	s := open(t, &msrpConfig)
	var wire []byte
	for range 1000 {
		wire = append(wire, clientFrame(ws.OpPing, true, make([]byte, 125), testMask)...)
	}
	if _, err := s.Feed(nil, wire); err != nil {
		t.Fatal(err)
	}
	if len(s.Output()) > 2+125 {
		t.Fatalf("%d bytes of pongs wait for 1000 pings", len(s.Output()))
	}
	s.Written()
	if _, err := s.Feed(nil, clientFrame(ws.OpPing, true, []byte("again"), testMask)); err != nil || !bytes.Contains(s.Output(), []byte("again")) {
		t.Fatalf("no pong once the last one was written (%v)", err)
	}
}
