package wsshim

import (
	"bytes"
	"encoding/binary"
	"strings"
	"testing"

	"github.com/gobwas/ws"
)

// The RFC 6455 §1.3 example key and the accept value it yields.
const (
	sampleKey    = "dGhlIHNhbXBsZSBub25jZQ=="
	sampleAccept = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
)

// request is an upgrade request with the RFC 7977 §4.1 example's headers,
// minus those named in drop, plus extra lines.
func request(drop []string, extra ...string) string {
	lines := []string{
		"GET / HTTP/1.1",
		"Host: a.example.com",
		"Upgrade: websocket",
		"Connection: Upgrade",
		"Sec-WebSocket-Key: " + sampleKey,
		"Origin: http://www.example.com",
		"Sec-WebSocket-Protocol: msrp",
		"Sec-WebSocket-Version: 13",
	}
	var b strings.Builder
	for _, l := range lines {
		name, _, _ := strings.Cut(l, ":")
		skip := false
		for _, d := range drop {
			if strings.EqualFold(name, d) {
				skip = true
			}
		}
		if !skip {
			b.WriteString(l + "\r\n")
		}
	}
	for _, l := range extra {
		b.WriteString(l + "\r\n")
	}
	b.WriteString("\r\n")
	return b.String()
}

var msrpConfig = Config{Protocol: "msrp"}

// open is a session past the upgrade, its 101 written.
func open(t testing.TB, cfg *Config) *Session {
	t.Helper()
	s := NewServer(cfg)
	dst, err := s.Feed(nil, []byte(request(nil)))
	if err != nil || len(dst) != 0 || !s.Upgraded() {
		t.Fatalf("upgrade: err %v, dst %q, output %q", err, dst, s.Output())
	}
	s.Written()
	return s
}

// clientFrame is a frame as a client sends it: masked with mask.
func clientFrame(op ws.OpCode, fin bool, payload []byte, mask [4]byte) []byte {
	var b bytes.Buffer
	h := ws.Header{Fin: fin, OpCode: op, Length: int64(len(payload)), Masked: true, Mask: mask}
	if err := ws.WriteHeader(&b, h); err != nil {
		panic(err)
	}
	p := bytes.Clone(payload)
	ws.Cipher(p, mask, 0)
	b.Write(p)
	return b.Bytes()
}

var testMask = [4]byte{0x37, 0xfa, 0x21, 0x3d}

func masked(op ws.OpCode, fin bool, payload string) []byte {
	return clientFrame(op, fin, []byte(payload), testMask)
}

func closeBody(code uint16, reason string) string {
	var b [2]byte
	binary.BigEndian.PutUint16(b[:], code)
	return string(b[:]) + reason
}

// closeCode is the status code of the close frame out ends with, or 0.
func closeCode(t *testing.T, out []byte) uint16 {
	t.Helper()
	r := bytes.NewReader(out)
	var code uint16
	for r.Len() > 0 {
		h, err := ws.ReadHeader(r)
		if err != nil {
			t.Fatalf("output %x: %v", out, err)
		}
		p := make([]byte, h.Length)
		if _, err := r.Read(p); err != nil && h.Length > 0 {
			t.Fatalf("output %x: %v", out, err)
		}
		if h.Masked {
			t.Fatalf("server frame masked: %x", out)
		}
		code = 0
		if h.OpCode == ws.OpClose && len(p) >= 2 {
			code = binary.BigEndian.Uint16(p)
		}
	}
	return code
}
