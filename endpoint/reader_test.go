package endpoint

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/msrprelay/msrprelay/codec"
)

func send(tid, body string, flag byte) []byte {
	r := Request{TID: tid, Method: "SEND", ToPath: "msrp://a.example:1/s;tcp", FromPath: "msrp://b.example:2/t;tcp",
		Headers: [][2]string{{"Message-ID", "m"}, {"Byte-Range", "1-*/*"}}, ContentType: "text/plain", Body: []byte(body), Flag: flag}
	return r.Append(nil)
}

// malformedSend is delimited but has no From-Path: a status error, not
// the end of the stream.
const malformedSend = "MSRP bad1 SEND\r\nTo-Path: msrp://a.example:1/s;tcp\r\n" +
	"Message-ID: m\r\nByte-Range: 1-4/4\r\nContent-Type: text/plain\r\n\r\nbody\r\n-------bad1$\r\n"

func stream() []byte {
	var b []byte
	b = append(b, send("tid1", "hello", '+')...)
	b = append(b, "MSRP tid2 200 OK\r\nTo-Path: msrp://b.example:2/t;tcp\r\nFrom-Path: msrp://a.example:1/s;tcp\r\n-------tid2$\r\n"...)
	b = append(b, malformedSend...)
	b = append(b, send("tid3", strings.Repeat("x", 3000), '$')...)
	return b
}

// TestNextWholeFrames reads frames that arrive a byte at a time through a
// buffer that holds only a little more than the largest.
func TestNextWholeFrames(t *testing.T) {
	r := NewReader(iotest.OneByteReader(bytes.NewReader(stream())), 3300)
	want := []struct {
		tid, body string
		flag      byte
		bad       bool
	}{{"tid1", "hello", '+', false}, {"tid2", "", '$', false}, {"bad1", "body", '$', true}, {"tid3", strings.Repeat("x", 3000), '$', false}}
	for _, w := range want {
		body, flag, err := r.Next()
		if err != nil {
			t.Fatalf("%s: %v", w.tid, err)
		}
		if got := string(r.Parsed().TID()); got != w.tid || string(body) != w.body || flag != w.flag {
			t.Fatalf("got %s %q %c, want %s %q %c", got, body, flag, w.tid, w.body, w.flag)
		}
		if (r.Malformed() != nil) != w.bad {
			t.Fatalf("%s: Malformed %v", w.tid, r.Malformed())
		}
	}
	if _, _, err := r.Next(); err != io.EOF {
		t.Fatalf("after the last frame: %v, want EOF", err)
	}
}

func TestNextFrameTooBig(t *testing.T) {
	r := NewReader(bytes.NewReader(send("tid1", strings.Repeat("x", 2000), '$')), 1024)
	if _, _, err := r.Next(); !errors.Is(err, ErrTooBig) {
		t.Fatalf("got %v, want ErrTooBig", err)
	}
}

// TestReadHeadStreamsBody streams a body many times the buffer's size.
func TestReadHeadStreamsBody(t *testing.T) {
	big := strings.Repeat("0123456789", 10000)
	in := append(send("tid1", big, '+'), send("tid2", "tail", '$')...)
	r := NewReader(iotest.HalfReader(bytes.NewReader(in)), 1024)
	f, err := r.ReadHead()
	if err != nil || !f.HasBody || f.TID != "tid1" || f.Header("message-id") != "m" {
		t.Fatalf("head %+v, %v", f, err)
	}
	var got bytes.Buffer
	flag, werr, err := r.Body(&got)
	if err != nil || werr != nil || flag != '+' || got.String() != big {
		t.Fatalf("body: flag %c, %d bytes, %v %v", flag, got.Len(), werr, err)
	}
	f, err = r.ReadFrame()
	if err != nil || f.TID != "tid2" || string(f.Body) != "tail" || f.Flag != '$' {
		t.Fatalf("next frame %+v, %v", f, err)
	}
}

type failWriter struct{}

var errSink = errors.New("sink full")

func (failWriter) Write([]byte) (int, error) { return 0, errSink }

// TestBodyKeepsStepWhenSinkFails: a failing sink still leaves the reader
// at the next frame, and a malformed frame comes with its status error.
func TestBodyKeepsStepWhenSinkFails(t *testing.T) {
	in := append(send("tid1", strings.Repeat("y", 5000), '$'), malformedSend...)
	r := NewReader(bytes.NewReader(in), 1024)
	if _, err := r.ReadHead(); err != nil {
		t.Fatal(err)
	}
	flag, werr, err := r.Body(failWriter{})
	if err != nil || !errors.Is(werr, errSink) || flag != '$' {
		t.Fatalf("flag %c, werr %v, err %v", flag, werr, err)
	}
	f, err := r.ReadFrame()
	if f == nil || f.TID != "bad1" || !errors.Is(err, codec.ErrMissingPath) || !errors.Is(f.Malformed, codec.ErrMissingPath) {
		t.Fatalf("got %+v, %v; want bad1 with ErrMissingPath", f, err)
	}
}

func TestSetIdle(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	r := NewReader(a, 1024)
	r.SetIdle(20 * time.Millisecond)
	if _, err := r.ReadHead(); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("got %v, want a deadline error", err)
	}
}

func TestThrottle(t *testing.T) {
	const n, rate = 20000, 100000.0
	r := NewReader(bytes.NewReader(send("tid1", strings.Repeat("z", n), '$')), 4096)
	r.Throttle(rate)
	start := time.Now()
	f, err := r.ReadFrame()
	if err != nil || len(f.Body) != n {
		t.Fatalf("%v", err)
	}
	// The first read sets the clock; the rest are held to the rate.
	if d := time.Since(start); d < time.Duration(float64(n-4096)/rate*float64(time.Second)) {
		t.Fatalf("read %d bytes in %v at %v B/s", n, d, rate)
	}
}
