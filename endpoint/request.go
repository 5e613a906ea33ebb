package endpoint

import (
	"bytes"
	"crypto/rand"
	"strings"

	"github.com/msrprelay/msrprelay/codec"
)

// tidAlphabet is what transaction ids are made of: base 62, the
// characters RFC 4975 §9 allows that need no escaping anywhere.
const tidAlphabet = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"

// NewTID returns a random transaction id (16 base-62 characters).
func NewTID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	for i := range b {
		b[i] = tidAlphabet[int(b[i])%len(tidAlphabet)]
	}
	return string(b[:])
}

// NewTIDFor returns a transaction id whose end-line does not occur in
// body, so the receiver cannot mistake body bytes for the end of the
// chunk (RFC 4975 §7.1).
func NewTIDFor(body []byte) string {
	for {
		tid := NewTID()
		if !bytes.Contains(body, endLine(tid)) {
			return tid
		}
	}
}

// endLine is the start of the end-line of transaction tid.
func endLine(tid string) []byte { return []byte("-------" + tid) }

// Request is a request to write.
type Request struct {
	TID      string // random when empty
	Method   string
	ToPath   string
	FromPath string
	Headers  [][2]string // after the paths, before Content-Type
	// ContentType and Body: a body is written when ContentType is set.
	ContentType string
	Body        []byte
	Flag        byte // '$' when zero
}

// Append writes r as a frame.
func (r *Request) Append(dst []byte) []byte {
	if r.TID == "" {
		r.TID = NewTID()
	}
	if r.Flag == 0 {
		r.Flag = '$'
	}
	tid := []byte(r.TID)
	dst = codec.AppendRequestLine(dst, tid, r.Method)
	dst = codec.AppendHeaderString(dst, "To-Path", r.ToPath)
	dst = codec.AppendHeaderString(dst, "From-Path", r.FromPath)
	for _, h := range r.Headers {
		dst = codec.AppendHeaderString(dst, h[0], h[1])
	}
	if r.ContentType == "" {
		return codec.AppendEndLine(dst, tid, r.Flag)
	}
	dst = codec.AppendHeaderString(dst, "Content-Type", r.ContentType)
	dst = append(dst, "\r\n"...)
	dst = append(dst, r.Body...)
	return codec.AppendBodyEnd(dst, tid, r.Flag)
}

// AppendResponse writes a response to request f, from the URI from. A
// SEND is answered to the previous hop only, other requests along the
// whole From-Path (RFC 4975 §7.2).
func AppendResponse(dst []byte, f *Frame, code int, comment, from string) []byte {
	to := f.Header("From-Path")
	if f.Method == "SEND" {
		to = FirstURI(to)
	}
	dst = codec.AppendResponseLine(dst, []byte(f.TID), code, comment)
	dst = codec.AppendHeaderString(dst, "To-Path", to)
	dst = codec.AppendHeaderString(dst, "From-Path", from)
	return codec.AppendEndLine(dst, []byte(f.TID), '$')
}

// WantsResponse reports whether request f expects a transaction response
// with code: a SEND not with Failure-Report "no", nor "partial" after
// success (RFC 4975 §7.1.2); a REPORT never; other requests always.
func WantsResponse(f *Frame, code int) bool {
	switch f.Method {
	case "REPORT":
		return false
	case "SEND":
		switch strings.ToLower(f.Header("Failure-Report")) {
		case "no":
			return false
		case "partial":
			return code != 200
		}
	}
	return true
}

// AppendSuccessReport writes the success REPORT for a whole message of
// size bytes, sent back along the SEND's From-Path fromPath (RFC 4975
// §7.1.2).
func AppendSuccessReport(dst []byte, fromPath, ownURI, messageID string, size int64) []byte {
	tid := []byte(NewTID())
	dst = codec.AppendRequestLine(dst, tid, "REPORT")
	dst = codec.AppendHeaderString(dst, "To-Path", fromPath)
	dst = codec.AppendHeaderString(dst, "From-Path", ownURI)
	dst = codec.AppendHeaderString(dst, "Message-ID", messageID)
	dst = append(dst, "Byte-Range: "...)
	dst = codec.AppendByteRange(dst, codec.ByteRange{Start: 1, End: size, Total: size})
	dst = append(dst, "\r\nStatus: 000 200 OK\r\n"...)
	return codec.AppendEndLine(dst, tid, '$')
}
