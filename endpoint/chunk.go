package endpoint

import (
	"bytes"
	"io"

	"github.com/msrprelay/msrprelay/codec"
)

// Chunk is the header of one SEND chunk of a message (RFC 4975 §7.1).
type Chunk struct {
	ToPath        string
	FromPath      string
	MessageID     string
	Range         codec.ByteRange
	SuccessReport bool   // ask for a success REPORT
	Disposition   string // Content-Disposition, none when empty
	ContentType   string
}

// AppendHeader writes the chunk's header for transaction tid: paths
// first, then Message-ID, Byte-Range, reports, Content-Disposition, and
// Content-Type and the blank line last; the body follows, then
// codec.AppendBodyEnd.
func (c *Chunk) AppendHeader(dst []byte, tid string) []byte {
	dst = codec.AppendRequestLine(dst, []byte(tid), "SEND")
	dst = codec.AppendHeaderString(dst, "To-Path", c.ToPath)
	dst = codec.AppendHeaderString(dst, "From-Path", c.FromPath)
	dst = codec.AppendHeaderString(dst, "Message-ID", c.MessageID)
	dst = append(dst, "Byte-Range: "...)
	dst = codec.AppendByteRange(dst, c.Range)
	dst = append(dst, "\r\nFailure-Report: yes\r\n"...)
	if c.SuccessReport {
		dst = append(dst, "Success-Report: yes\r\n"...)
	}
	if c.Disposition != "" {
		dst = codec.AppendHeaderString(dst, "Content-Disposition", c.Disposition)
	}
	dst = codec.AppendHeaderString(dst, "Content-Type", c.ContentType)
	return append(dst, "\r\n"...)
}

// NewTIDForSection is NewTIDFor for a body too large to hold in memory:
// it reads body through buf (longer than an end-line) once per candidate.
func NewTIDForSection(body *io.SectionReader, buf []byte) (string, error) {
	for {
		tid := NewTID()
		found, err := sectionContains(body, endLine(tid), buf)
		if err != nil || !found {
			return tid, err
		}
	}
}

// sectionContains reports whether r holds pat, reading it through buf
// (which must be longer than pat).
func sectionContains(r *io.SectionReader, pat, buf []byte) (bool, error) {
	var off int64
	keep := 0 // bytes carried over from the last read: a match may span reads
	for off < r.Size() {
		n, err := r.ReadAt(buf[keep:], off)
		if n == 0 && err != nil {
			return false, err
		}
		off += int64(n)
		if bytes.Contains(buf[:keep+n], pat) {
			return true, nil
		}
		total := keep + n
		keep = min(len(pat)-1, total)
		copy(buf, buf[total-keep:total])
	}
	return false, nil
}
