package codec

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"testing"
)

// scanAll runs a scanner over wire fed in pieces of at most step bytes, as a
// reactor would, and returns the released body, the flag and the bytes left
// after the end-line.
func scanAll(t *testing.T, s *BodyScanner, wire []byte, step int) (body []byte, flag byte, rest []byte) {
	t.Helper()
	var pending []byte
	for i := 0; i < len(wire) || len(pending) > 0; {
		if i < len(wire) {
			n := min(step, len(wire)-i)
			pending = append(pending, wire[i:i+n]...)
			i += n
		}
		r, err := s.Scan(pending)
		if err != nil {
			t.Fatal(err)
		}
		if r.Collision {
			t.Fatal("unexpected collision")
		}
		body = append(body, pending[:r.Body]...)
		if r.End > 0 {
			return body, r.Flag, append(pending[r.End:], wire[i:]...)
		}
		pending = pending[r.Body:]
		if i == len(wire) {
			break
		}
	}
	return body, 0, pending
}

func TestBodyScannerFindsOnlyItsEndLine(t *testing.T) {
	tid := []byte("a7Hq.-+%=x")
	tricky := []string{
		"",
		"plain",
		"\r\n",
		"\r\n-------",
		"-------a7Hq.-+%=x",                   // own end-line without the CRLF before it
		"x\r\n-------a7Hq.-+%=$\r\n",          // a shorter tid
		"\r\n-------a7Hq.-+%=xy$\r\n",         // a longer tid starting with ours
		"\r\n-------a7Hq.-+%=x \r\n",          // not a flag
		"\r\n-------a7Hq.-+%=x$\n",            // flag without CRLF
		"\r\n-------zzzz9999$\r\n",            // another transaction
		"\r\r\n-------a7Hq.-+%=",              // partial end-line shapes
		"bare CR:\r bare LF:\n end with CR\r", // body ending in CR
	}
	for _, body := range tricky {
		for _, flag := range []byte("$+#") {
			wire := append([]byte(body), AppendBodyEnd(nil, tid, flag)...)
			wire = append(wire, "MSRP next..."...)
			for _, step := range []int{1, 2, 3, 7, len(wire)} {
				var s BodyScanner
				s.Reset(tid, 0)
				got, gotFlag, rest := scanAll(t, &s, wire, step)
				if string(got) != body || gotFlag != flag || string(rest) != "MSRP next..." {
					t.Fatalf("body %q step %d: got %q flag %q rest %q", body, step, got, gotFlag, rest)
				}
				if s.Released() != int64(len(body)) {
					t.Fatalf("released %d, want %d", s.Released(), len(body))
				}
			}
		}
	}
}

func TestBodyScannerEmptyBodyWithoutCRLF(t *testing.T) {
	var s BodyScanner
	s.Reset([]byte("abcd"), 0)
	r, err := s.Scan([]byte("-------abcd$\r\nMSRP"))
	if err != nil || r.End != len("-------abcd$\r\n") || r.Body != 0 || r.Flag != '$' {
		t.Fatalf("%+v %v", r, err)
	}
}

func TestBodyScannerHoldsBackOnlyPossibleEndLines(t *testing.T) {
	var s BodyScanner
	s.Reset([]byte("abcd"), 0)
	for _, tc := range []struct {
		buf  string
		body int
	}{
		{"xxxx", 4},
		{"xxxx\r", 4},
		{"xxxx\r\n---", 4},
		{"xxxx\r\n-------abc", 4},
		{"xxxx\r\n-------abcd", 4},
		{"xxxx\r\n-------abcd$", 4},
		{"xxxx\r\n-------abcd$\r", 4},
		{"xxxx\r\n-------abcx", 17},
		{"xxxx\r\n-------abcd!", 18},
		{"xxxx\r\n-------abcd$x", 19},
	} {
		s.started = true
		r, _ := s.Scan([]byte(tc.buf))
		if r.Body != tc.body || r.End != 0 {
			t.Errorf("%q: body %d end %d, want body %d", tc.buf, r.Body, r.End, tc.body)
		}
	}
}

func TestBodyScannerWatchStopsBeforeForwardingEndLine(t *testing.T) {
	in, out := []byte("inTID01"), []byte("outTID99")
	body := []byte("hello\r\n-------outTID99$\r\nworld")
	wire := append(append([]byte{}, body...), AppendBodyEnd(nil, in, '$')...)
	for _, step := range []int{1, 5, len(wire)} {
		var s BodyScanner
		s.Reset(in, 0)
		s.Watch(out)
		var pending, released []byte
		cut := -1
		for i := 0; ; {
			if i < len(wire) {
				n := min(step, len(wire)-i)
				pending = append(pending, wire[i:i+n]...)
				i += n
			}
			r, err := s.Scan(pending)
			if err != nil {
				t.Fatal(err)
			}
			released = append(released, pending[:r.Body]...)
			pending = pending[r.Body:]
			if r.Collision {
				if cut >= 0 {
					t.Fatal("collision reported twice")
				}
				cut = len(released)
				s.Watch([]byte("outTID100")) // the relay's next chunk
				continue
			}
			if r.End > 0 {
				break
			}
		}
		if cut != len("hello") || !bytes.Equal(released, body) {
			t.Fatalf("step %d: cut at %d, released %q", step, cut, released)
		}
	}
}

func TestBodyScannerLimit(t *testing.T) {
	var s BodyScanner
	s.Reset([]byte("abcd"), 10)
	if _, err := s.Scan([]byte("0123456789")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Scan([]byte("x")); !errors.Is(err, ErrBodyTooLarge) {
		t.Fatalf("err = %v", err)
	}
}

// TestBodyScannerRandomBodies: random binary bodies sprinkled with end-line
// fragments, random read sizes; the released bytes are always the body.
func TestBodyScannerRandomBodies(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	tid := []byte("Rt9x")
	pieces := [][]byte{[]byte("\r\n"), []byte("-------"), []byte("\r\n-------Rt9"), []byte("\r\n-------Rt9x"), []byte("\r\n-------Rt9xx$\r\n"), {0}, {0xff}}
	for iter := 0; iter < 300; iter++ {
		var body []byte
		for len(body) < rng.IntN(3000) {
			if rng.IntN(3) == 0 {
				body = append(body, pieces[rng.IntN(len(pieces))]...)
			} else {
				body = append(body, byte(rng.IntN(256)))
			}
		}
		if bytes.Contains(body, []byte("\r\n-------Rt9x$\r\n")) || bytes.Contains(body, []byte("\r\n-------Rt9x+\r\n")) || bytes.Contains(body, []byte("\r\n-------Rt9x#\r\n")) || bytes.HasPrefix(body, []byte("-------Rt9x")) {
			continue
		}
		wire := append(append([]byte{}, body...), AppendBodyEnd(nil, tid, '+')...)
		var s BodyScanner
		s.Reset(tid, 0)
		got, flag, rest := scanAll(t, &s, wire, 1+rng.IntN(100))
		if !bytes.Equal(got, body) || flag != '+' || len(rest) != 0 {
			t.Fatalf("iter %d: body mismatch (got %d bytes, want %d)", iter, len(got), len(body))
		}
	}
}
