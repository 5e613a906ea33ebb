package endpoint

import (
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/msrprelay/msrprelay/codec"
)

// ErrTooBig means a frame (for Next) or a header block (for ReadHead)
// does not fit the reader's buffer.
var ErrTooBig = errors.New("msrp: frame larger than the read buffer")

// Reader reads frames off a connection through one fixed buffer, and is
// the only frame reader of this module's clients. A frame is taken one of
// two ways:
//
//   - Next parses a whole frame in place: its header (Parsed) and body are
//     views into the buffer, nothing is copied or allocated, and the frame
//     must fit the buffer. This is the load generator's per-message path.
//   - ReadHead copies the header out, then Body or Skip streams the body
//     piece by piece, so a chunk of any size (a file sent as one 100 MiB
//     chunk) costs no more memory than a small one.
type Reader struct {
	src  io.Reader
	buf  []byte
	r, w int // unread bytes are buf[r:w]
	f    codec.Frame
	prog codec.Progress
	scan codec.BodyScanner
	// malformed is the status error of the frame Next returned last.
	malformed error
	// lastRead is when the last read returned: every byte of a frame that
	// Next returns had arrived by then.
	lastRead time.Time
	// idle, when set, is how long a read may wait for bytes before it
	// fails with os.ErrDeadlineExceeded.
	idle     time.Duration
	deadline interface{ SetReadDeadline(time.Time) error }
	// rate, when above zero, limits reads to that many bytes per second
	// from the first read on: a slow receiver.
	rate    float64
	started time.Time
	total   int64
}

// NewReader reads src through a buffer of size bytes.
func NewReader(src io.Reader, size int) *Reader {
	return &Reader{src: src, buf: make([]byte, size)}
}

// SetIdle makes every read fail with os.ErrDeadlineExceeded once nothing
// arrived for d (0: wait forever). The deadline is renewed per read, not
// per frame, because one large chunk may take longer than d to arrive.
// The source must have SetReadDeadline (a net.Conn does).
func (r *Reader) SetIdle(d time.Duration) {
	r.idle = d
	r.deadline, _ = r.src.(interface{ SetReadDeadline(time.Time) error })
}

// Throttle makes the reader take at most bytesPerSec (0: no limit).
func (r *Reader) Throttle(bytesPerSec float64) { r.rate = bytesPerSec }

// Buffered reports whether unparsed bytes are waiting: a caller batching
// its writes flushes them before a Next that would block.
func (r *Reader) Buffered() bool { return r.r < r.w }

// LastRead is when the last read from the source returned.
func (r *Reader) LastRead() time.Time { return r.lastRead }

// Parsed is the header of the frame Next returned, parsed in place and
// valid until the next call on r.
func (r *Reader) Parsed() *codec.Frame { return &r.f }

// Malformed is the status error of the frame Next returned (malformed
// but delimited, RFC 4975 §7.3: answer or skip it and go on), else nil.
func (r *Reader) Malformed() error { return r.malformed }

// Next returns the next whole frame: Parsed holds its header and body is
// its body (nil without one), both valid until the following call. A
// frame that parsed with a status error is returned with Malformed set;
// an error ends the stream.
func (r *Reader) Next() (body []byte, flag byte, err error) {
	for {
		if r.r < r.w {
			body, flag, done, err := r.parseWhole()
			if done || err != nil {
				return body, flag, err
			}
		}
		if err := r.fill(); err != nil {
			return nil, 0, err
		}
	}
}

// parseWhole tries to take one frame from the buffered bytes; done is
// false when more bytes are needed.
func (r *Reader) parseWhole() (body []byte, flag byte, done bool, err error) {
	pending := r.buf[r.r:r.w]
	n, perr := r.f.Parse(pending, nil, &r.prog)
	if perr == codec.ErrNeedMore {
		return nil, 0, false, nil
	}
	if perr != nil && codec.IsClose(perr) {
		return nil, 0, false, fmt.Errorf("parse: %w", perr)
	}
	if !r.f.HasBody() {
		r.r += n
		r.malformed = perr
		return nil, r.f.Flag(), true, nil
	}
	r.scan.Reset(r.f.TID(), 0)
	res, serr := r.scan.Scan(pending[n:])
	if serr != nil {
		return nil, 0, false, fmt.Errorf("body: %w", serr)
	}
	if res.End == 0 {
		// Parse again once the rest arrived: the whole frame must fit.
		return nil, 0, false, nil
	}
	body = pending[n : n+res.Body]
	r.r += n + res.End
	r.malformed = perr
	return body, res.Flag, true, nil
}

// ReadHead reads the next frame's header and copies it out. When
// f.HasBody, the caller reads the body with Body or Skip before the next
// ReadHead. A frame that parsed with a status error comes with
// f.Malformed set; an error ends the stream.
func (r *Reader) ReadHead() (*Frame, error) {
	for {
		n, err := r.f.Parse(r.buf[r.r:r.w], nil, &r.prog)
		if err == codec.ErrNeedMore {
			if err := r.fill(); err != nil {
				return nil, err
			}
			continue
		}
		if err != nil && codec.IsClose(err) {
			return nil, err
		}
		f := copyHead(&r.f)
		f.Malformed = err
		r.r += n
		if f.HasBody {
			r.scan.Reset(r.f.TID(), 0)
		}
		return f, nil
	}
}

// Body streams the body of the frame ReadHead returned to w and returns
// its continuation flag. If w fails, the rest of the body is still read
// (the stream stays in step and the request can be answered) and w's
// first error comes back as werr; err is a read error.
func (r *Reader) Body(w io.Writer) (flag byte, werr, err error) {
	for {
		res, err := r.scan.Scan(r.buf[r.r:r.w])
		if err != nil {
			return 0, werr, err
		}
		if res.Body > 0 && werr == nil {
			_, werr = w.Write(r.buf[r.r : r.r+res.Body])
		}
		if res.End > 0 {
			r.r += res.End
			return res.Flag, werr, nil
		}
		r.r += res.Body
		if err := r.fill(); err != nil {
			return 0, werr, err
		}
	}
}

// Skip reads and drops f's body, if it has one, and returns its flag.
func (r *Reader) Skip(f *Frame) (flag byte, err error) {
	if !f.HasBody {
		return f.Flag, nil
	}
	flag, _, err = r.Body(io.Discard)
	return flag, err
}

// ReadFrame reads the next frame with its body collected in f.Body. A
// frame that parsed with a status error is returned with that error.
func (r *Reader) ReadFrame() (*Frame, error) { return r.ReadFrameFunc(nil) }

// ReadFrameFunc is ReadFrame, but when onBody is not nil the body is
// handed to it piece by piece (each valid only during the call) instead
// of being collected, so bodies of any size take constant memory. When
// onBody fails, the rest of the body is read and dropped (as Body does)
// and its error returned.
func (r *Reader) ReadFrameFunc(onBody func([]byte) error) (*Frame, error) {
	f, err := r.ReadHead()
	if err != nil {
		return nil, err
	}
	if f.HasBody {
		var werr error
		f.Flag, werr, err = r.Body(bodySink{f, onBody})
		if err == nil {
			err = werr
		}
		if err != nil {
			return f, err
		}
	}
	return f, f.Malformed
}

// bodySink collects a body into its frame, or hands it to onBody.
type bodySink struct {
	f      *Frame
	onBody func([]byte) error
}

func (s bodySink) Write(p []byte) (int, error) {
	if s.onBody != nil {
		return len(p), s.onBody(p)
	}
	s.f.Body = append(s.f.Body, p...)
	return len(p), nil
}

// fill reads more bytes, first moving the unread ones to the front when
// the buffer is full or they sit in its second half.
func (r *Reader) fill() error {
	if r.r == r.w {
		r.r, r.w = 0, 0
	} else if r.w == len(r.buf) || r.r > len(r.buf)/2 {
		r.w = copy(r.buf, r.buf[r.r:r.w])
		r.r = 0
	}
	if r.w == len(r.buf) {
		return ErrTooBig
	}
	room := r.buf[r.w:]
	if r.rate > 0 {
		room = room[:min(len(room), throttledRead)]
		r.wait()
	}
	if r.idle > 0 && r.deadline != nil {
		_ = r.deadline.SetReadDeadline(time.Now().Add(r.idle))
	}
	n, err := r.src.Read(room)
	r.lastRead = time.Now()
	r.w += n
	r.total += int64(n)
	if n > 0 {
		return nil
	}
	if err == nil {
		err = io.ErrNoProgress
	}
	return err
}

// throttledRead bounds one read of a throttled reader, so that the socket
// buffer, not this one, holds what the rate leaves waiting.
const throttledRead = 64 << 10

// wait sleeps until the bytes read so far are within the rate.
func (r *Reader) wait() {
	if r.started.IsZero() {
		r.started = time.Now()
		return
	}
	due := r.started.Add(time.Duration(float64(r.total) / r.rate * float64(time.Second)))
	if d := time.Until(due); d > 0 {
		time.Sleep(d)
	}
}
