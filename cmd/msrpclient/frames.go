package main

import (
	"bytes"
	"errors"
	"io"
	"net"
	"strings"
	"time"

	"github.com/msrprelay/msrprelay/bench/client"
	"github.com/msrprelay/msrprelay/codec"
)

// readBufSize holds any header block the codec accepts (64 KiB by default)
// with room to spare, and is what one read asks the kernel for.
const readBufSize = 128 << 10

// head is a frame's start line and headers, copied out of the read buffer
// (they are small; bodies are not copied, see frameReader.body).
type head struct {
	TID     string
	Method  string // empty for a response
	Code    int
	Comment string
	Headers [][2]string
	HasBody bool
	Flag    byte // continuation flag of a bodiless frame
	// Err is a status-kind parse error (codec.Error without Close): the
	// frame is delimited and its body can be skipped, but it is malformed.
	Err error
}

// Get returns the first value of the named header ("" if absent).
func (h *head) Get(name string) string {
	for _, kv := range h.Headers {
		if strings.EqualFold(kv[0], name) {
			return kv[1]
		}
	}
	return ""
}

// firstURI is the first URI of a path header.
func firstURI(path string) string {
	first, _ := codec.NextURI([]byte(path))
	return string(first)
}

// frameReader reads frames off a connection through one fixed buffer.
// Bodies are handed on piecewise as they arrive, so a chunk of any size
// (a file sent as one 100 MiB chunk) costs no more memory than a small one.
//
// bench/client's ReadFrameFunc streams bodies too, but a receiver needs
// three things it does not give: an idle deadline renewed on every read
// (not per frame: one chunk may take longer than --timeout), the rest of
// a body still read when the sink fails (so the SEND can be answered and
// the stream stays in step), and the status error of a malformed frame
// that has a body (ReadFrameFunc drops it).
type frameReader struct {
	nc       net.Conn
	buf      []byte
	off, end int // unread bytes are buf[off:end]
	f        codec.Frame
	prog     codec.Progress
	scan     codec.BodyScanner
	// idle, when set, is how long a read may wait for bytes before it
	// fails with a timeout (os.ErrDeadlineExceeded).
	idle time.Duration
}

func newFrameReader(nc net.Conn) *frameReader {
	return &frameReader{nc: nc, buf: make([]byte, readBufSize)}
}

// next reads the next frame's header. When h.HasBody, the caller must read
// the body with body before calling next again.
func (r *frameReader) next() (*head, error) {
	for {
		n, err := r.f.Parse(r.buf[r.off:r.end], nil, &r.prog)
		if err == codec.ErrNeedMore {
			if err := r.fill(); err != nil {
				return nil, err
			}
			continue
		}
		if err != nil && codec.IsClose(err) {
			return nil, err
		}
		h := copyHead(&r.f)
		h.Err = err
		r.off += n
		if h.HasBody {
			r.scan.Reset(r.f.TID(), 0)
		}
		return h, nil
	}
}

func copyHead(f *codec.Frame) *head {
	h := &head{TID: string(f.TID()), Method: string(f.Method()), Code: f.Code(), Comment: string(f.Comment()), HasBody: f.HasBody(), Flag: f.Flag()}
	for i := 0; i < f.NumHeaders(); i++ {
		k, v := f.HeaderAt(i)
		h.Headers = append(h.Headers, [2]string{string(k), string(v)})
	}
	return h
}

// body streams the current frame's body to w and returns its continuation
// flag. If w fails, the rest of the body is still read (the stream stays in
// step) and w's first error comes back as werr; err is a read error.
func (r *frameReader) body(w io.Writer) (flag byte, werr, err error) {
	for {
		res, err := r.scan.Scan(r.buf[r.off:r.end])
		if err != nil {
			return 0, werr, err
		}
		if res.Body > 0 && werr == nil {
			_, werr = w.Write(r.buf[r.off : r.off+res.Body])
		}
		if res.End > 0 {
			r.off += res.End
			return res.Flag, werr, nil
		}
		r.off += res.Body
		if err := r.fill(); err != nil {
			return 0, werr, err
		}
	}
}

// skip reads and drops the current frame's body, if it has one.
func (r *frameReader) skip(h *head) (flag byte, err error) {
	if !h.HasBody {
		return h.Flag, nil
	}
	flag, _, err = r.body(io.Discard)
	return flag, err
}

// fill reads more bytes, first moving the unread ones to the front when
// the buffer has no room left.
func (r *frameReader) fill() error {
	if r.off == r.end {
		r.off, r.end = 0, 0
	} else if r.end == len(r.buf) {
		r.end = copy(r.buf, r.buf[r.off:r.end])
		r.off = 0
	}
	if r.end == len(r.buf) {
		return errors.New("msrp: header block larger than the read buffer")
	}
	if r.idle > 0 {
		_ = r.nc.SetReadDeadline(time.Now().Add(r.idle))
	}
	n, err := r.nc.Read(r.buf[r.end:])
	r.end += n
	if n > 0 {
		return nil
	}
	if err == nil {
		err = io.ErrNoProgress
	}
	return err
}

// appendResponse writes a response to request h, from our URI. A SEND is
// answered to the previous hop only, other requests along the whole
// From-Path (RFC 4975 §7.2).
func appendResponse(dst []byte, h *head, code int, comment, ownURI string) []byte {
	to := h.Get("From-Path")
	if h.Method == "SEND" {
		to = firstURI(to)
	}
	dst = codec.AppendResponseLine(dst, []byte(h.TID), code, comment)
	dst = codec.AppendHeaderString(dst, "To-Path", to)
	dst = codec.AppendHeaderString(dst, "From-Path", ownURI)
	return codec.AppendEndLine(dst, []byte(h.TID), '$')
}

// wantsResponse reports whether a SEND expects a transaction response:
// not with Failure-Report "no" or "partial" after success (RFC 4975 §7.1.2).
// Other requests but REPORT always do.
func wantsResponse(h *head, code int) bool {
	switch h.Method {
	case "REPORT":
		return false
	case "SEND":
		switch strings.ToLower(h.Get("Failure-Report")) {
		case "no":
			return false
		case "partial":
			return code != 200
		}
	}
	return true
}

// newTIDFor returns a transaction id whose end-line does not occur in body,
// so the receiver cannot mistake body bytes for the end of the chunk
// (RFC 4975 §7.1).
func newTIDFor(body []byte) string {
	for {
		tid := client.NewTID()
		if !containsEndLine(body, tid) {
			return tid
		}
	}
}

func containsEndLine(body []byte, tid string) bool {
	return bytes.Contains(body, []byte("-------"+tid))
}
