package codec

import (
	"bytes"
	"os"
	"testing"
)

func parseOne(t testing.TB, wire []byte) *Frame {
	t.Helper()
	f := new(Frame)
	if _, err := f.Parse(wire, nil, nil); err != nil {
		t.Fatal(err)
	}
	return f
}

// TestRewriteForward is RFC 4976 §6.4's rewrite: pop To-Path[0], push the
// relay's URI onto From-Path, new tid, every other header byte for byte.
func TestRewriteForward(t *testing.T) {
	wire, err := os.ReadFile("testdata/vectors/rfc4976-3-send-alice-to-relay-a.msrp")
	if err != nil {
		t.Fatal(err)
	}
	f := parseOne(t, wire)
	first, rest := NextURI(f.ToPath())
	rw := Rewrite{TID: []byte("newTID123"), ToPath: rest, FromPrefix: first}
	got := AppendRewrite(nil, f, &rw)
	if len(got) != RewriteLen(f, &rw) {
		t.Fatalf("RewriteLen %d, wrote %d", RewriteLen(f, &rw), len(got))
	}
	var g Frame
	if _, err := g.Parse(append(got, "body"...), nil, nil); err != nil {
		t.Fatalf("rewritten header does not parse: %v\n%s", err, got)
	}
	if string(g.TID()) != "newTID123" || !bytes.Equal(g.ToPath(), rest) ||
		string(g.FromPath()) != string(first)+" "+string(f.FromPath()) || !bytes.Equal(g.Method(), f.Method()) {
		t.Fatalf("rewritten:\n%s", got)
	}
	if g.NumHeaders() != f.NumHeaders() {
		t.Fatalf("headers %d -> %d", f.NumHeaders(), g.NumHeaders())
	}
	for i := 2; i < f.NumHeaders(); i++ {
		n1, v1 := f.HeaderAt(i)
		n2, v2 := g.HeaderAt(i)
		if !bytes.Equal(n1, n2) || !bytes.Equal(v1, v2) {
			t.Fatalf("header %d changed: %s: %s -> %s: %s", i, n1, v1, n2, v2)
		}
	}
}

func TestRewriteByteRangeAndContinuation(t *testing.T) {
	wire := crlf("MSRP abcd SEND\nTo-Path: msrp://r:1/s;tcp msrp://b:2/t;tcp\nFrom-Path: msrp://a:3/u;tcp\nMessage-ID: m1\nByte-Range: 1-5000/5000\nContent-Type: text/plain\n\n")
	f := parseOne(t, wire)
	// The relay may cut this chunk, so it says '*' for the end (§7.1.1).
	rw := Rewrite{TID: []byte("fwd1"), SetByteRange: true, ByteRange: ByteRange{1, Unknown, 5000}}
	first := AppendRewrite(nil, f, &rw)
	want := "MSRP fwd1 SEND\r\nTo-Path: msrp://r:1/s;tcp msrp://b:2/t;tcp\r\nFrom-Path: msrp://a:3/u;tcp\r\nByte-Range: 1-*/5000\r\nMessage-ID: m1\r\nContent-Type: text/plain\r\n\r\n"
	if string(first) != want || len(first) != RewriteLen(f, &rw) {
		t.Fatalf("got\n%q\nwant\n%q", first, want)
	}
	// Cut after 2048 bytes: end the chunk with '+', and continue from the
	// header the relay wrote, with a new tid and the next start.
	cut := AppendBodyEnd(nil, []byte("fwd1"), '+')
	if string(cut) != "\r\n-------fwd1+\r\n" {
		t.Fatal(string(cut))
	}
	g := parseOne(t, first)
	rw2 := Rewrite{TID: []byte("fwd2"), SetByteRange: true, ByteRange: ByteRange{2049, Unknown, 5000}}
	second := AppendRewrite(nil, g, &rw2)
	if !bytes.Contains(second, []byte("\r\nByte-Range: 2049-*/5000\r\n")) || !bytes.HasPrefix(second, []byte("MSRP fwd2 SEND\r\nTo-Path: msrp://r:1/s;tcp msrp://b:2/t;tcp\r\n")) {
		t.Fatalf("continuation:\n%s", second)
	}
	// A frame without Byte-Range gets one right after From-Path.
	h := parseOne(t, crlf("MSRP abcd SEND\nTo-Path: msrp://r:1/s;tcp\nFrom-Path: msrp://a:3/u;tcp\nContent-Type: text/plain\n\n"))
	added := AppendRewrite(nil, h, &rw2)
	if !bytes.Contains(added, []byte("From-Path: msrp://a:3/u;tcp\r\nByte-Range: 2049-*/5000\r\nContent-Type")) || len(added) != RewriteLen(h, &rw2) {
		t.Fatalf("added:\n%s", added)
	}
}

func TestRewriteResponseAndBodiless(t *testing.T) {
	f := parseOne(t, crlf("MSRP abcd 481 No such session\nTo-Path: msrp://a:1/s;tcp\nFrom-Path: msrp://b:2/t;tcp\n-------abcd$\n"))
	rw := Rewrite{TID: []byte("orig"), FromPath: []byte("msrp://r:9/x;tcp")}
	out := AppendRewrite(nil, f, &rw)
	out = AppendEndLine(out, rw.TID, f.Flag())
	want := "MSRP orig 481 No such session\r\nTo-Path: msrp://a:1/s;tcp\r\nFrom-Path: msrp://r:9/x;tcp\r\n-------orig$\r\n"
	if string(out) != want {
		t.Fatalf("got %q", out)
	}
}

func TestBuilders(t *testing.T) {
	var out []byte
	out = AppendResponseLine(out, []byte("tid1"), 200, "OK")
	out = AppendHeader(out, "To-Path", []byte("msrp://a:1/s;tcp"))
	out = AppendHeaderString(out, "From-Path", "msrp://b:1/s;tcp")
	out = AppendHeaderInt(out, "Expires", 900)
	out = AppendEndLine(out, []byte("tid1"), '$')
	f := parseOne(t, out)
	if f.Code() != 200 || string(f.Comment()) != "OK" || f.HasBody() {
		t.Fatal(string(out))
	}
	if v, _, _ := f.Expires(); v != 900 {
		t.Fatal(v)
	}
	req := AppendRequestLine(nil, []byte("tid2"), "REPORT")
	if string(req) != "MSRP tid2 REPORT\r\n" {
		t.Fatal(string(req))
	}
	if got := AppendResponseLine(nil, []byte("tid3"), 408, ""); string(got) != "MSRP tid3 408\r\n" {
		t.Fatal(string(got))
	}
}
