package codec

import (
	"bytes"
	"testing"
)

// FuzzParse checks the decoder's invariants on arbitrary streams: no panic,
// the same result whatever the read boundaries, and a forwarded header that
// parses back to what it said.
func FuzzParse(f *testing.F) {
	for _, wire := range vectors(f) {
		f.Add(wire, uint16(7))
	}
	f.Add([]byte("MSRP abcd SEND\r\nTo-Path: msrp://a:1/s;tcp\r\nFrom-Path: msrp://b:1/s;tcp\r\n-------abcd$\r\n"), uint16(1))
	f.Fuzz(func(t *testing.T, wire []byte, cut uint16) {
		whole := decodeAll(wire)
		c := int(cut) % (len(wire) + 1)
		d := streamDecoder{}
		d.feed(wire[:c])
		d.feed(wire[c:])
		if got := renderDecoded(&d); got != whole {
			t.Fatalf("split at %d differs:\n%s\nwhole:\n%s", c, got, whole)
		}
		var fr Frame
		n, err := fr.Parse(wire, nil, nil)
		if err != nil {
			return
		}
		if n > len(wire) || n != fr.HeaderLen() {
			t.Fatalf("consumed %d of %d", n, len(wire))
		}
		rw := Rewrite{TID: []byte("zzzzFUZZ"), FromPrefix: []byte("msrp://relay:1/x;tcp")}
		out := AppendRewrite(nil, &fr, &rw)
		if len(out) != RewriteLen(&fr, &rw) {
			t.Fatalf("RewriteLen %d, wrote %d", RewriteLen(&fr, &rw), len(out))
		}
		if !fr.HasBody() {
			out = AppendEndLine(out, rw.TID, fr.Flag())
		}
		var g Frame
		if _, err := g.Parse(out, nil, nil); err != nil {
			t.Fatalf("rewrite does not parse: %v\n%q", err, out)
		}
		if !bytes.Equal(g.ToPath(), fr.ToPath()) || g.NumHeaders() != fr.NumHeaders() || g.HasBody() != fr.HasBody() {
			t.Fatalf("rewrite changed the frame:\n%q\n%q", wire[:n], out)
		}
	})
}

// FuzzBodyScanner: whatever the body and the read sizes, the scanner
// releases exactly the body when the body does not hold its own end-line,
// and never releases a byte of the watched end-line.
func FuzzBodyScanner(f *testing.F) {
	f.Add([]byte("hello\r\n-------abcd"), []byte("abcd"), uint8(3))
	f.Add([]byte("\r\n-------abcd+x\r\n-------abc$\r\n"), []byte("abcd"), uint8(1))
	f.Add([]byte("-------abcd"), []byte("abcdef"), uint8(200))
	f.Fuzz(func(t *testing.T, body, tid []byte, step uint8) {
		if !ValidTID(tid) {
			return
		}
		end := AppendBodyEnd(nil, tid, '$')
		if bytes.Contains(body, end[:len(end)-3]) || bytes.HasPrefix(append(append([]byte{}, body...), end...), end[2:len(end)-3]) {
			return
		}
		wire := append(append([]byte{}, body...), end...)
		wire = append(wire, "tail"...)
		n := 1 + int(step)
		var s BodyScanner
		s.Reset(tid, 0)
		watch := []byte("W" + string(tid[1:]))
		s.Watch(watch)
		var pending, released []byte
		for i := 0; ; {
			if i < len(wire) {
				k := min(n, len(wire)-i)
				pending = append(pending, wire[i:i+k]...)
				i += k
			}
			r, err := s.Scan(pending)
			if err != nil {
				t.Fatal(err)
			}
			released = append(released, pending[:r.Body]...)
			pending = pending[r.Body:]
			if r.Collision {
				if !bytes.HasPrefix(pending, []byte("\r\n-------"+string(watch))) {
					t.Fatalf("collision not at the watched end-line: %q", pending)
				}
				watch = append(watch, 'x')
				if len(watch) > 32 {
					watch = watch[:4]
				}
				s.Watch(watch)
				continue
			}
			if r.End > 0 {
				if !bytes.Equal(released, body) || string(pending[r.End-r.Body:])+string(wire[i:]) != "tail" {
					t.Fatalf("released %q, want %q", released, body)
				}
				return
			}
			if i == len(wire) && r.Body == 0 {
				t.Fatalf("stuck with %q pending", pending)
			}
		}
	})
}

// FuzzURI: a URI that parses re-encodes to itself and equals itself.
func FuzzURI(f *testing.F) {
	for _, s := range []string{"msrp://bob.example.com:8888/9di4eae923wzd;tcp", "msrps://[2001:db8::1]:2855/s;tcp;a=b", "msrp://u@h;ws", "msrps://example.com;tcp"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		u, err := ParseURI(in)
		if err != nil {
			return
		}
		out := AppendURI(nil, &u)
		// A port with leading zeros is the one text that re-encodes
		// differently; it must still name the same URI.
		if !bytes.Equal(out, in) && !bytes.Contains(in, []byte(":0")) {
			t.Fatalf("%q re-encoded as %q", in, out)
		}
		v, err := ParseURI(out)
		if err != nil || !u.Equal(&v) || !v.SameAuthority(&u) {
			t.Fatalf("%q: %v", out, err)
		}
	})
}

// FuzzDigest: parsed parameters, written back quoted, parse to the same.
func FuzzDigest(f *testing.F) {
	f.Add([]byte(`Digest username="alice", realm="example.com", nonce="n", qop=auth, nc=00000001, cnonce="c", response="r", opaque="o"`))
	f.Add([]byte(`Digest username="a\"b", qop="auth",nc="00000001"`))
	f.Add([]byte(`qop=auth, rspauth="x"`))
	f.Fuzz(func(t *testing.T, in []byte) {
		var d Digest
		if ParseDigest(in, &d) != nil {
			return
		}
		fields := []struct {
			name string
			v    []byte
		}{{"username", d.Username}, {"realm", d.Realm}, {"nonce", d.Nonce}, {"uri", d.URI}, {"qop", d.QOP}, {"nc", d.NC}, {"cnonce", d.CNonce}, {"response", d.Response}, {"opaque", d.Opaque}}
		out := []byte("Digest ")
		first := true
		for _, p := range fields {
			if p.v != nil {
				out = AppendDigestParam(out, first, p.name, AppendUnescaped(nil, p.v), true)
				first = false
			}
		}
		var e Digest
		if err := ParseDigest(out, &e); err != nil {
			t.Fatalf("%q: %v", out, err)
		}
		for i, p := range []([]byte){e.Username, e.Realm, e.Nonce, e.URI, e.QOP, e.NC, e.CNonce, e.Response, e.Opaque} {
			if !bytes.Equal(AppendUnescaped(nil, p), AppendUnescaped(nil, fields[i].v)) {
				t.Fatalf("%s: %q -> %q", fields[i].name, fields[i].v, p)
			}
		}
	})
}

// FuzzByteRange: a range that parses re-encodes to itself.
func FuzzByteRange(f *testing.F) {
	for _, s := range []string{"1-25/25", "1-0/0", "1-*/*", "2049-*/8000"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		r, err := ParseByteRange(in)
		if err != nil {
			return
		}
		if out := AppendByteRange(nil, r); !bytes.Equal(out, in) {
			// Leading zeros are the one way two texts mean one range.
			if r2, err := ParseByteRange(out); err != nil || r2 != r {
				t.Fatalf("%q -> %q", in, out)
			}
		}
	})
}
