package enginetest

import (
	"fmt"
	"io"
	"testing"

	"github.com/msrprelay/msrprelay/endpoint"
)

// Decoder splits the bytes a relay wrote toward one peer into frames,
// with the endpoint.Reader that peer would read them with. The bytes may
// come in any cuts (a partial Flush, a chunk still streaming): a frame is
// returned once all of it arrived. A header block must fit the codec's
// default limits, as for every endpoint; a body may be of any size.
type Decoder struct {
	src queue
	rd  *endpoint.Reader
	cur *endpoint.Frame // a frame whose body is still arriving
}

// headerRoom holds the largest header block the reader parses (the
// codec's default limit) with room to spare.
const headerRoom = 128 << 10

// NewDecoder returns a decoder at the start of a byte stream.
func NewDecoder() *Decoder {
	d := &Decoder{}
	d.rd = endpoint.NewReader(&d.src, headerRoom)
	return d
}

// Write adds the next bytes of the stream.
func (d *Decoder) Write(b []byte) { d.src.b = append(d.src.b, b...) }

// Next returns the next frame, with its body and flag, or nil until all
// of it arrived. A frame that does not decode, or decodes as malformed,
// is an error: the relay wrote something no peer can read.
func (d *Decoder) Next() (*endpoint.Frame, error) {
	if d.cur == nil {
		f, err := d.rd.ReadHead()
		if err == io.EOF {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		if f.Malformed != nil {
			return nil, fmt.Errorf("malformed frame %s: %w", f.TID, f.Malformed)
		}
		if !f.HasBody {
			return f, nil
		}
		d.cur = f
	}
	flag, _, err := d.rd.Body(bodyOf{d.cur})
	if err == io.EOF {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	f := d.cur
	d.cur, f.Flag = nil, flag
	return f, nil
}

// Frames returns every frame complete so far.
func (d *Decoder) Frames() ([]*endpoint.Frame, error) {
	var out []*endpoint.Frame
	for {
		f, err := d.Next()
		if f == nil || err != nil {
			return out, err
		}
		out = append(out, f)
	}
}

// Partial reports whether part of a frame arrived and waits for the rest.
func (d *Decoder) Partial() bool {
	return d.cur != nil || d.rd.Buffered() || len(d.src.b) > 0
}

// Decode splits wire into frames; the test fails unless it is whole
// frames that decode.
func Decode(t testing.TB, wire []byte) []*endpoint.Frame {
	t.Helper()
	d := NewDecoder()
	d.Write(wire)
	frames, err := d.Frames()
	if err != nil {
		t.Fatalf("undecodable output (%v):\n%q", err, wire)
	}
	if d.Partial() {
		t.Fatalf("output ends inside a frame:\n%q", wire)
	}
	return frames
}

// queue is the decoder's byte stream: what was written and not yet read.
// It reads io.EOF when empty, which the Reader passes up with its state
// kept, to go on when more was written.
type queue struct{ b []byte }

func (q *queue) Read(p []byte) (int, error) {
	if len(q.b) == 0 {
		q.b = nil // let a large buffer go
		return 0, io.EOF
	}
	n := copy(p, q.b)
	q.b = q.b[n:]
	return n, nil
}

// bodyOf collects a body into its frame.
type bodyOf struct{ f *endpoint.Frame }

func (b bodyOf) Write(p []byte) (int, error) {
	b.f.Body = append(b.f.Body, p...)
	return len(p), nil
}
