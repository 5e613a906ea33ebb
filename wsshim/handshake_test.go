package wsshim

import (
	"errors"
	"strings"
	"testing"
)

func TestHandshake(t *testing.T) {
	origins := Config{Protocol: "msrp", Origins: []string{"https://chat.example.com", "http://www.example.com"}}
	tests := []struct {
		name    string
		cfg     Config
		req     string
		status  string   // the response's first line
		has     []string // in the response
		refused bool
	}{
		{
			name:   "RFC 7977 example",
			cfg:    msrpConfig,
			req:    request(nil),
			status: "HTTP/1.1 101 Switching Protocols",
			has:    []string{"Sec-WebSocket-Accept: " + sampleAccept, "Sec-WebSocket-Protocol: msrp"},
		},
		{
			name:   "msrp among other subprotocols",
			cfg:    msrpConfig,
			req:    request([]string{"Sec-WebSocket-Protocol"}, "Sec-WebSocket-Protocol: sip, msrp"),
			status: "HTTP/1.1 101 Switching Protocols",
			has:    []string{"Sec-WebSocket-Protocol: msrp"},
		},
		{
			name:   "lower-case header names and bare LF",
			cfg:    msrpConfig,
			req:    strings.ReplaceAll(strings.ToLower(request(nil)[:0])+lowerNames(request(nil)), "\r\n", "\n"),
			status: "HTTP/1.1 101 Switching Protocols",
			has:    []string{"Sec-WebSocket-Protocol: msrp"},
		},
		{
			name:    "no subprotocol",
			cfg:     msrpConfig,
			req:     request([]string{"Sec-WebSocket-Protocol"}),
			status:  "HTTP/1.1 400 Bad Request",
			has:     []string{`subprotocol "msrp" required`},
			refused: true,
		},
		{
			name:    "other subprotocols only",
			cfg:     msrpConfig,
			req:     request([]string{"Sec-WebSocket-Protocol"}, "Sec-WebSocket-Protocol: sip, xmpp"),
			status:  "HTTP/1.1 400 Bad Request",
			has:     []string{`subprotocol "msrp" required`},
			refused: true,
		},
		{
			name:   "origin allowed, case aside",
			cfg:    origins,
			req:    request([]string{"Origin"}, "Origin: HTTPS://chat.example.com"),
			status: "HTTP/1.1 101 Switching Protocols",
		},
		{
			name:    "origin not allowed",
			cfg:     origins,
			req:     request([]string{"Origin"}, "Origin: https://evil.example.net"),
			status:  "HTTP/1.1 403 Forbidden",
			has:     []string{`origin "https://evil.example.net" not allowed`},
			refused: true,
		},
		{
			name:   "no origin: not a browser",
			cfg:    origins,
			req:    request([]string{"Origin"}),
			status: "HTTP/1.1 101 Switching Protocols",
		},
		{
			name:   "any origin when none configured",
			cfg:    msrpConfig,
			req:    request([]string{"Origin"}, "Origin: https://anywhere.example.org"),
			status: "HTTP/1.1 101 Switching Protocols",
		},
		{
			name:    "wrong version",
			cfg:     msrpConfig,
			req:     request([]string{"Sec-WebSocket-Version"}, "Sec-WebSocket-Version: 8"),
			status:  "HTTP/1.1 426 Upgrade Required",
			has:     []string{"Sec-WebSocket-Version: 13"},
			refused: true,
		},
		{
			name:    "no version",
			cfg:     msrpConfig,
			req:     request([]string{"Sec-WebSocket-Version"}),
			status:  "HTTP/1.1 400 Bad Request",
			has:     []string{"Sec-WebSocket-Version"},
			refused: true,
		},
		{
			name:    "no key",
			cfg:     msrpConfig,
			req:     request([]string{"Sec-WebSocket-Key"}),
			status:  "HTTP/1.1 400 Bad Request",
			has:     []string{"Sec-WebSocket-Key"},
			refused: true,
		},
		{
			name:    "no host",
			cfg:     msrpConfig,
			req:     request([]string{"Host"}),
			status:  "HTTP/1.1 400 Bad Request",
			has:     []string{"Host"},
			refused: true,
		},
		{
			name:    "no upgrade header",
			cfg:     msrpConfig,
			req:     request([]string{"Upgrade"}),
			status:  "HTTP/1.1 400 Bad Request",
			has:     []string{"Upgrade"},
			refused: true,
		},
		{
			name:    "HTTP/1.0",
			cfg:     msrpConfig,
			req:     strings.Replace(request(nil), "HTTP/1.1", "HTTP/1.0", 1),
			status:  "HTTP/1.1 505 HTTP Version Not Supported",
			refused: true,
		},
		{
			name:    "an MSRP client on a WebSocket port",
			cfg:     msrpConfig,
			req:     "MSRP a786hjs2 SEND\r\n",
			status:  "HTTP/1.1 400 Bad Request",
			has:     []string{"expected GET"},
			refused: true,
		},
		{
			name:    "request too long",
			cfg:     Config{Protocol: "msrp", MaxRequest: 300},
			req:     request(nil, "Cookie: "+strings.Repeat("c", 300)),
			status:  "HTTP/1.1 431 Request Header Fields Too Large",
			has:     []string{"longer than 300 bytes"},
			refused: true,
		},
		{
			name:    "request too long, blank line not yet seen",
			cfg:     Config{Protocol: "msrp", MaxRequest: 300},
			req:     "GET / HTTP/1.1\r\nCookie: " + strings.Repeat("c", 400),
			status:  "HTTP/1.1 431 Request Header Fields Too Large",
			refused: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := NewServer(&tt.cfg)
			defer s.Release()
			dst, err := s.Feed(nil, []byte(tt.req))
			out := string(s.Output())
			if len(dst) != 0 {
				t.Errorf("payload %q before upgrade", dst)
			}
			if first, _, _ := strings.Cut(out, "\r\n"); first != tt.status {
				t.Fatalf("status %q, want %q; response:\n%s", first, tt.status, out)
			}
			for _, h := range tt.has {
				if !strings.Contains(out, h) {
					t.Errorf("response lacks %q:\n%s", h, out)
				}
			}
			if s.Refused() != tt.refused || s.Upgraded() == tt.refused {
				t.Errorf("refused %v upgraded %v, want refused %v", s.Refused(), s.Upgraded(), tt.refused)
			}
			if tt.refused != errors.Is(err, ErrRefused) {
				t.Errorf("error %v, refused %v", err, tt.refused)
			}
			if _, again := s.Feed(nil, []byte("more")); tt.refused && again != err {
				t.Errorf("second Feed error %v after %v", again, err)
			}
		})
	}
}

// lowerNames lower-cases the header names of req (gobwas canonicalizes).
func lowerNames(req string) string {
	lines := strings.Split(req, "\r\n")
	for i, l := range lines[1:] {
		if name, value, ok := strings.Cut(l, ":"); ok {
			lines[i+1] = strings.ToLower(name) + ":" + value
		}
	}
	return strings.Join(lines, "\r\n")
}

func TestOriginIsKept(t *testing.T) {
	s := open(t, &msrpConfig)
	if s.Origin() != "http://www.example.com" {
		t.Fatalf("origin %q", s.Origin())
	}
}

// The request byte by byte, then frames: nothing before the blank line,
// the answer at it, payload after.
func TestHandshakeByteByByte(t *testing.T) {
	s := NewServer(&msrpConfig)
	wire := append([]byte(request(nil)), masked(0x1, true, "MSRP x SEND\r\n")...)
	var dst []byte
	reqLen := len(request(nil))
	for i := range wire {
		var err error
		dst, err = s.Feed(dst, wire[i:i+1])
		if err != nil {
			t.Fatalf("byte %d: %v", i, err)
		}
		if i < reqLen-1 && (len(s.Output()) != 0 || s.Upgraded()) {
			t.Fatalf("answered at byte %d of %d", i, reqLen)
		}
	}
	if !strings.HasPrefix(string(s.Output()), "HTTP/1.1 101 ") {
		t.Fatalf("output %q", s.Output())
	}
	if string(dst) != "MSRP x SEND\r\n" {
		t.Fatalf("payload %q", dst)
	}
}

// Frames in the same read as the request's end are not lost.
func TestFramesAfterRequestInOneFeed(t *testing.T) {
	s := NewServer(&msrpConfig)
	wire := append([]byte(request(nil)), masked(0x2, true, "one")...)
	wire = append(wire, masked(0x1, true, "two")...)
	dst, err := s.Feed(nil, wire)
	if err != nil || string(dst) != "onetwo" {
		t.Fatalf("payload %q, err %v", dst, err)
	}
}
