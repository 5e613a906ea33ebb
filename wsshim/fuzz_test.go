package wsshim

import (
	"testing"

	"github.com/gobwas/ws"
)

// FuzzFeed: random bytes as the upgrade request (afterUpgrade false) or as
// frames after a valid one, fed at a random cut. Nothing panics, payload
// is never more than the bytes fed, and buffers stay bounded.
func FuzzFeed(f *testing.F) {
	f.Add(false, uint16(7), []byte(request(nil)))
	f.Add(false, uint16(1), []byte(request([]string{"Sec-WebSocket-Protocol"})))
	f.Add(false, uint16(3), []byte("GET / HTTP/1.1\n\n"))
	f.Add(true, uint16(5), masked(ws.OpText, true, "MSRP a SEND\r\n-------a$\r\n"))
	f.Add(true, uint16(2), append(masked(ws.OpText, false, "He"), masked(ws.OpContinuation, true, "llo")...))
	f.Add(true, uint16(1), masked(ws.OpPing, true, "p"))
	f.Add(true, uint16(9), masked(ws.OpClose, true, closeBody(1000, "bye")))
	f.Add(true, uint16(3), []byte{0x82, 0xff, 0, 0, 0, 1, 0, 0, 0, 0, 1, 2, 3, 4})
	const maxRequest = 2048
	cfg := &Config{Protocol: "msrp", Origins: []string{"http://www.example.com"}, MaxRequest: maxRequest, MaxFrame: 4096, MaxMessage: 8192}
	f.Fuzz(func(t *testing.T, afterUpgrade bool, cut uint16, data []byte) {
		s := NewServer(cfg)
		defer s.Release()
		if afterUpgrade {
			if _, err := s.Feed(nil, []byte(request(nil))); err != nil {
				t.Fatal(err)
			}
			s.Written()
		}
		step := int(cut)%64 + 1
		var dst []byte
		var err error
		for rest := data; len(rest) > 0 && err == nil; {
			n := min(step, len(rest))
			dst, err = s.Feed(dst, rest[:n])
			rest = rest[n:]
			if s.req != nil && len(s.req.B) > maxRequest+step {
				t.Fatalf("request buffer %d bytes", len(s.req.B))
			}
		}
		if len(dst) > len(data) {
			t.Fatalf("%d payload bytes from %d fed", len(dst), len(data))
		}
		// Pongs are no longer than the pings they answer; a handshake
		// answer quotes at most the request.
		if bound := len(data) + 2*maxRequest + 512; len(s.Output()) > bound {
			t.Fatalf("output %d bytes from %d fed", len(s.Output()), len(data))
		}
		if err != nil {
			if _, again := s.Feed(nil, []byte{0x81, 0x80, 0, 0, 0, 0}); again != err {
				t.Fatalf("session alive after %v: %v", err, again)
			}
		}
	})
}
