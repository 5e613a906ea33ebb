package codec

import (
	"errors"
	"strings"
	"testing"
)

// crlf turns the readable "\n" line ends of a test frame into CRLF.
func crlf(s string) []byte { return []byte(strings.ReplaceAll(s, "\n", "\r\n")) }

func TestParseErrors(t *testing.T) {
	long := strings.Repeat("a", DefaultMaxLine)
	tests := []struct {
		name string
		wire []byte
		want error
	}{
		{"garbage first bytes", []byte("GET / HTTP/1.1\r\n"), ErrBadStartLine},
		{"lower-case msrp", crlf("msrp abcd SEND\n"), ErrBadStartLine},
		{"short tid", crlf("MSRP abc SEND\nTo-Path: msrp://a:1/s;tcp\nFrom-Path: msrp://b:1/s;tcp\n-------abc$\n"), ErrBadStartLine},
		{"tid too long", crlf("MSRP " + strings.Repeat("a", 33) + " SEND\nTo-Path: x\n\n"), ErrBadStartLine},
		{"tid bad char", crlf("MSRP ab_cd SEND\nTo-Path: x\n\n"), ErrBadStartLine},
		{"lower-case method", crlf("MSRP abcd send\nTo-Path: x\n\n"), ErrBadStartLine},
		{"no method", crlf("MSRP abcd \nTo-Path: x\n\n"), ErrBadStartLine},
		{"bare LF start line", []byte("MSRP abcd SEND\nTo-Path: x\r\n\r\n"), ErrBadStartLine},
		{"bare LF header", []byte("MSRP abcd SEND\r\nTo-Path: x\n\r\n"), ErrBareLF},
		{"lone LF line", []byte("MSRP abcd SEND\r\nTo-Path: x\r\n\n"), ErrBareLF},
		{"end-line wrong tid", crlf("MSRP abcd SEND\nTo-Path: msrp://a:1/s;tcp\nFrom-Path: msrp://b:1/s;tcp\n-------abce$\n"), ErrBadEndLine},
		{"end-line bad flag", crlf("MSRP abcd SEND\nTo-Path: msrp://a:1/s;tcp\nFrom-Path: msrp://b:1/s;tcp\n-------abcd!\n"), ErrBadEndLine},
		{"start line too long", []byte("MSRP abcd " + long), ErrLineTooLong},
		{"header too long", []byte("MSRP abcd SEND\r\nX: " + long), ErrLineTooLong},
		{"header block too large", []byte("MSRP abcd SEND\r\n" + strings.Repeat("X-Long: "+strings.Repeat("v", 1000)+"\r\n", 70)), ErrHeaderTooLarge},
		{"missing from-path", crlf("MSRP abcd SEND\nTo-Path: msrp://a:1/s;tcp\n-------abcd$\n"), ErrMissingPath},
		{"duplicate to-path", crlf("MSRP abcd SEND\nTo-Path: msrp://a:1/s;tcp\nTo-Path: msrp://a:1/s;tcp\nFrom-Path: msrp://b:1/s;tcp\n-------abcd$\n"), ErrDuplicatePath},
		{"NUL in a header value", crlf("MSRP abcd SEND\nTo-Path: msrp://a:1/s;tcp\nFrom-Path: msrp://b:1/s;tcp\nMessage-ID: a\x00b\n-------abcd$\n"), ErrBadHeader},
		{"escape in a header value", crlf("MSRP abcd SEND\nTo-Path: msrp://a:1/s;tcp\nFrom-Path: msrp://b:1/s;tcp\nX-Y: \x1b[2J\n-------abcd$\n"), ErrBadHeader},
		{"header without colon", crlf("MSRP abcd SEND\nTo-Path: msrp://a:1/s;tcp\nFrom-Path: msrp://b:1/s;tcp\nNoColon\n-------abcd$\n"), ErrBadHeader},
		{"header name with space", crlf("MSRP abcd SEND\nTo-Path: msrp://a:1/s;tcp\nFrom-Path: msrp://b:1/s;tcp\nBad Name: v\n-------abcd$\n"), ErrBadHeader},
		{"response with body", crlf("MSRP abcd 200 OK\nTo-Path: msrp://a:1/s;tcp\nFrom-Path: msrp://b:1/s;tcp\nContent-Type: text/plain\n\nhi\n-------abcd$\n"), ErrResponseBody},
		{"too many headers", crlf("MSRP abcd SEND\nTo-Path: msrp://a:1/s;tcp\nFrom-Path: msrp://b:1/s;tcp\n" + strings.Repeat("X: y\n", 63) + "-------abcd$\n"), ErrTooManyHeaders},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var f Frame
			_, err := f.Parse(tc.wire, nil, nil)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
}

// TestStatusErrorsKeepFrameDelimited checks that a 400-class error still
// tells the caller the tid, the paths and where the frame's header ends, so
// it can answer and skip the body.
func TestStatusErrorsKeepFrameDelimited(t *testing.T) {
	wire := crlf("MSRP abcd SEND\nTo-Path: msrp://a:1/s;tcp\nFrom-Path: msrp://b:1/s;tcp\nbroken\nContent-Type: text/plain\n\nbody\n-------abcd$\n")
	var f Frame
	n, err := f.Parse(wire, nil, nil)
	if !errors.Is(err, ErrBadHeader) || IsClose(err) {
		t.Fatalf("err = %v", err)
	}
	if string(f.TID()) != "abcd" || string(f.FromPath()) != "msrp://b:1/s;tcp" || !f.HasBody() {
		t.Fatalf("frame not usable: tid %q from %q", f.TID(), f.FromPath())
	}
	if got := string(wire[n:]); got != "body\r\n-------abcd$\r\n" {
		t.Fatalf("header length wrong, rest = %q", got)
	}
}

func TestParseNeedMore(t *testing.T) {
	wire := crlf("MSRP a786hjs2 SEND\nTo-Path: msrp://bob.example.com:8888/9di4eae923wzd;tcp\nFrom-Path: msrp://alicepc.example.com:7777/iau39soe2843z;tcp\nMessage-ID: 87652491\nByte-Range: 1-25/25\nContent-Type: text/plain\n\n")
	var want Frame
	n, err := want.Parse(wire, nil, nil)
	if err != nil || n != len(wire) {
		t.Fatalf("whole: n=%d err=%v", n, err)
	}
	// Every proper prefix, fed as one growing buffer with one Progress, asks
	// for more; the complete buffer then parses the same as in one piece.
	var p Progress
	var f Frame
	for i := 0; i < len(wire); i++ {
		if _, err := f.Parse(wire[:i], nil, &p); err != ErrNeedMore {
			t.Fatalf("prefix %d: err = %v", i, err)
		}
	}
	if n2, err := f.Parse(wire, nil, &p); err != nil || n2 != n || dumpFrame(&f) != dumpFrame(&want) {
		t.Fatalf("after prefixes: n=%d err=%v", n2, err)
	}
	if p.searched != 0 {
		t.Fatalf("progress not reset: %d", p.searched)
	}
}

func TestParseFields(t *testing.T) {
	wire := crlf("MSRP d93kswow 200 Not quite OK\nto-path:msrp://a.example:1/s;tcp\nFROM-PATH:   msrp://b.example:2/t;tcp  \nX-Unknown: kept\nX-Unknown: twice\n-------d93kswow$\n")
	var f Frame
	if _, err := f.Parse(wire, nil, nil); err != nil {
		t.Fatal(err)
	}
	checks := []struct{ got, want string }{
		{string(f.TID()), "d93kswow"},
		{string(f.Comment()), "Not quite OK"},
		{string(f.ToPath()), "msrp://a.example:1/s;tcp"},
		{string(f.FromPath()), "msrp://b.example:2/t;tcp"},
		{string(f.Header("x-unknown")), "kept"},
		{string([]byte{f.Flag()}), "$"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
	if !f.IsResponse() || f.Code() != 200 || f.HasBody() || f.NumHeaders() != 4 {
		t.Fatalf("response=%v code=%d body=%v headers=%d", f.IsResponse(), f.Code(), f.HasBody(), f.NumHeaders())
	}
	if _, v := f.HeaderAt(3); string(v) != "twice" {
		t.Fatalf("fourth header = %q", v)
	}
}

func TestLimitsWithDefaults(t *testing.T) {
	l := Limits{MaxHeaders: 1000}.WithDefaults()
	if l.MaxHeaders != MaxHeadersCap || l.MaxLine != DefaultMaxLine || l.MaxNonSendBody != DefaultMaxNonSendBody {
		t.Fatalf("%+v", l)
	}
	small := Limits{MaxHeaders: 2}.WithDefaults()
	wire := crlf("MSRP abcd SEND\nTo-Path: msrp://a:1/s;tcp\nFrom-Path: msrp://b:1/s;tcp\nX: y\n-------abcd$\n")
	var f Frame
	if _, err := f.Parse(wire, &small, nil); !errors.Is(err, ErrTooManyHeaders) {
		t.Fatalf("err = %v", err)
	}
}

// TestParseUnderscoreMethod: sipsimple's FILE_OFFSET (msrplib parses
// methods as [A-Z_]+) is a request like any other.
func TestParseUnderscoreMethod(t *testing.T) {
	wire := crlf("MSRP abcd FILE_OFFSET\nTo-Path: msrp://a:1/s;tcp\nFrom-Path: msrp://b:1/s;tcp\nMessage-ID: m1\n-------abcd$\n")
	var f Frame
	n, err := f.Parse(wire, nil, nil)
	if err != nil || n != len(wire) || string(f.Method()) != "FILE_OFFSET" || f.IsResponse() {
		t.Fatalf("n=%d err=%v method=%q", n, err, f.Method())
	}
}

// TestHasControl checks the word-at-a-time scan against the byte one at
// every position and length.
func TestHasControl(t *testing.T) {
	for n := 0; n < 20; n++ {
		for pos := 0; pos < n; pos++ {
			for _, c := range []byte{0, 1, '\t', '\r', '\n', 0x1f, 0x20, 0x7e, 0x7f, 0x80, 0xff} {
				v := []byte(strings.Repeat("a", n))
				v[pos] = c
				if got, want := hasControl(v), hasControlByte(v); got != want {
					t.Fatalf("%q: %v, want %v", v, got, want)
				}
			}
		}
	}
}
