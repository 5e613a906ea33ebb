package load

import (
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/msrprelay/msrprelay/codec"
)

// errFrameTooBig means a frame does not fit the reader's buffer.
var errFrameTooBig = errors.New("frame larger than the read buffer")

// frameReader reads whole frames from a connection into one reused buffer
// and parses them in place: nothing is copied or allocated per frame.
type frameReader struct {
	nc   net.Conn
	buf  []byte
	r, w int
	f    codec.Frame
	prog codec.Progress
	scan codec.BodyScanner
	// readAt is when the last read returned: every byte of a frame that next
	// returns had arrived by then.
	readAt time.Time
	// bad is the status error of the frame next returned (malformed but
	// delimited, RFC 4975 §7.3: answer or skip it and go on), else nil.
	bad error
	// rate, when above zero, limits reads to that many bytes per second
	// from the first read on: a slow receiver.
	rate    float64
	started time.Time
	total   int64
}

// throttledRead bounds one read of a throttled reader, so that the socket
// buffer, not this one, holds what the rate leaves waiting.
const throttledRead = 64 << 10

// throttle makes the reader take at most bytesPerSec (0: no limit).
func (fr *frameReader) throttle(bytesPerSec float64) { fr.rate = bytesPerSec }

func newFrameReader(nc net.Conn, size int) *frameReader {
	return &frameReader{nc: nc, buf: make([]byte, size)}
}

// buffered reports whether unparsed bytes are waiting: the caller flushes
// its batched writes before a next() that would block.
func (fr *frameReader) buffered() bool { return fr.r < fr.w }

// next returns the next whole frame: fr.f holds its header and body is its
// body (nil without one). Both are valid until the following call. A frame
// that parsed with a status error is returned with fr.bad set; an error
// ends the stream.
func (fr *frameReader) next() (body []byte, flag byte, err error) {
	for {
		if fr.r < fr.w {
			body, flag, done, err := fr.parse()
			if done || err != nil {
				return body, flag, err
			}
		}
		if err := fr.fill(); err != nil {
			return nil, 0, err
		}
	}
}

// parse tries to take one frame from the buffered bytes; done is false
// when more bytes are needed.
func (fr *frameReader) parse() (body []byte, flag byte, done bool, err error) {
	pending := fr.buf[fr.r:fr.w]
	n, perr := fr.f.Parse(pending, nil, &fr.prog)
	if perr == codec.ErrNeedMore {
		return nil, 0, false, nil
	}
	if perr != nil && codec.IsClose(perr) {
		return nil, 0, false, fmt.Errorf("parse: %w", perr)
	}
	if !fr.f.HasBody() {
		fr.r += n
		fr.bad = perr
		return nil, fr.f.Flag(), true, nil
	}
	fr.scan.Reset(fr.f.TID(), 0)
	res, serr := fr.scan.Scan(pending[n:])
	if serr != nil {
		return nil, 0, false, fmt.Errorf("body: %w", serr)
	}
	if res.End == 0 {
		// Parse again once the rest arrived: bodies here are small.
		return nil, 0, false, nil
	}
	body = pending[n : n+res.Body]
	fr.r += n + res.End
	fr.bad = perr
	return body, res.Flag, true, nil
}

func (fr *frameReader) fill() error {
	if fr.r == fr.w {
		fr.r, fr.w = 0, 0
	} else if fr.w == len(fr.buf) || fr.r > len(fr.buf)/2 {
		fr.w = copy(fr.buf, fr.buf[fr.r:fr.w])
		fr.r = 0
	}
	if fr.w == len(fr.buf) {
		return errFrameTooBig
	}
	room := fr.buf[fr.w:]
	if fr.rate > 0 {
		room = room[:min(len(room), throttledRead)]
		fr.wait()
	}
	n, err := fr.nc.Read(room)
	fr.readAt = time.Now()
	fr.w += n
	fr.total += int64(n)
	if n > 0 {
		return nil
	}
	return err
}

// wait sleeps until the bytes read so far are within the rate.
func (fr *frameReader) wait() {
	if fr.started.IsZero() {
		fr.started = time.Now()
		return
	}
	due := fr.started.Add(time.Duration(float64(fr.total) / fr.rate * float64(time.Second)))
	if d := time.Until(due); d > 0 {
		time.Sleep(d)
	}
}
