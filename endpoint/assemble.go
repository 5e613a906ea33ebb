package endpoint

import (
	"errors"
	"io"

	"github.com/msrprelay/msrprelay/codec"
)

// ErrBeyondTotal is a body that runs past the total its Byte-Range
// declared.
var ErrBeyondTotal = errors.New("body runs past the Byte-Range total")

// Assembly is one message being reassembled from its chunks (RFC 4975
// §7.1.1). Chunks may come in any order and a relay may cut one chunk into
// several frames, so every frame's body is written at its own Byte-Range
// start, and the message is complete once the chunk flagged '$' has been
// seen and every byte up to its end has arrived.
type Assembly struct {
	dst      io.WriterAt
	total    int64 // codec.Unknown until a Byte-Range gives it
	received int64 // body bytes written
	end      int64 // where the message ends, once the '$' chunk is in; -1 before
}

// NewAssembly reassembles a message of total bytes (codec.Unknown if not
// known) into dst.
func NewAssembly(dst io.WriterAt, total int64) *Assembly {
	return &Assembly{dst: dst, total: total, end: -1}
}

// Writer returns where the body of a frame starting at Byte-Range start
// goes. Writes past the declared total fail with ErrBeyondTotal.
func (a *Assembly) Writer(start int64) io.Writer {
	return &countingWriter{w: io.NewOffsetWriter(boundedAt{a.dst, a.total}, start-1), n: &a.received}
}

// ChunkDone records the flag of a frame whose body went to Writer(start)
// and carried n bytes.
func (a *Assembly) ChunkDone(flag byte, start, n int64) {
	if flag == '$' {
		a.end = start - 1 + n
	}
}

// Complete reports whether every byte of the message has arrived.
func (a *Assembly) Complete() bool { return a.end >= 0 && a.received >= a.end }

// Size is the message's length once complete.
func (a *Assembly) Size() int64 { return a.end }

// Received is how many body bytes were written so far.
func (a *Assembly) Received() int64 { return a.received }

// SliceAt is a fixed byte slice to reassemble a message into.
type SliceAt []byte

// WriteAt writes p at off; nothing may fall outside the slice.
func (s SliceAt) WriteAt(p []byte, off int64) (int, error) {
	if off < 0 || off+int64(len(p)) > int64(len(s)) {
		return 0, ErrBeyondTotal
	}
	return copy(s[off:], p), nil
}

// boundedAt refuses writes past limit (codec.Unknown: no limit).
type boundedAt struct {
	w     io.WriterAt
	limit int64
}

func (b boundedAt) WriteAt(p []byte, off int64) (int, error) {
	if b.limit != codec.Unknown && off+int64(len(p)) > b.limit {
		return 0, ErrBeyondTotal
	}
	return b.w.WriteAt(p, off)
}

// countingWriter adds what it writes to *n.
type countingWriter struct {
	w io.Writer
	n *int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	*c.n += int64(n)
	return n, err
}
