package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"

	"github.com/msrprelay/msrprelay/bench/client"
	"github.com/msrprelay/msrprelay/codec"
)

// errRead marks a failure to read the file being sent.
var errRead = errors.New("reading the file")

// maxChunkBuf bounds the memory a chunk takes: a larger chunk (--chunk-size
// as large as the file is allowed) is streamed from the file to the socket.
const maxChunkBuf = 1 << 20

// sendChunk writes the chunk of m starting at offset off and returns its
// body length.
func (s *sender) sendChunk(m *outMessage, off int64) (int64, error) {
	n := min(m.chunk, m.total-off)
	body := io.NewSectionReader(m.r, off, n)
	rng := codec.ByteRange{Start: off + 1, End: off + n, Total: m.total}
	flag := byte('+')
	if off+n == m.total {
		flag = '$'
	}
	var tid string
	var err error
	if n <= int64(len(s.buf)) {
		err = s.sendSmall(m, body, rng, flag, &tid)
	} else {
		err = s.sendLarge(m, body, rng, flag, &tid)
	}
	if err != nil {
		return 0, err
	}
	s.pending[tid] = n
	return n, nil
}

// sendSmall reads the body into memory and writes the frame at once.
func (s *sender) sendSmall(m *outMessage, body *io.SectionReader, rng codec.ByteRange, flag byte, tid *string) error {
	b := s.buf[:body.Size()]
	if _, err := io.ReadFull(body, b); err != nil {
		return fmt.Errorf("%w: %w", errRead, err)
	}
	*tid = newTIDFor(b)
	s.frame = s.appendChunkHeader(s.frame[:0], m, *tid, rng)
	s.frame = append(s.frame, b...)
	s.frame = codec.AppendBodyEnd(s.frame, []byte(*tid), flag)
	return s.mc.write(s.frame)
}

// sendLarge streams the body from the file through s.buf. The file is read
// twice: first to pick a transaction id whose end-line it does not contain.
func (s *sender) sendLarge(m *outMessage, body *io.SectionReader, rng codec.ByteRange, flag byte, tid *string) error {
	for {
		*tid = client.NewTID()
		found, err := sectionContains(body, []byte("-------"+*tid), s.buf)
		if err != nil {
			return fmt.Errorf("%w: %w", errRead, err)
		}
		if !found {
			break
		}
	}
	s.frame = s.appendChunkHeader(s.frame[:0], m, *tid, rng)
	return s.mc.writeFrame(func(w io.Writer) error {
		if _, err := w.Write(s.frame); err != nil {
			return err
		}
		if _, err := io.CopyBuffer(w, body, s.buf); err != nil {
			return err
		}
		_, err := w.Write(codec.AppendBodyEnd(nil, []byte(*tid), flag))
		return err
	})
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

// appendChunkHeader writes a SEND chunk's header (RFC 4975 §7.1): paths
// first, then Message-ID, Byte-Range, reports, Content-Disposition, and
// Content-Type and the blank line last; the body follows.
func (s *sender) appendChunkHeader(dst []byte, m *outMessage, tid string, rng codec.ByteRange) []byte {
	dst = codec.AppendRequestLine(dst, []byte(tid), "SEND")
	dst = codec.AppendHeaderString(dst, "To-Path", s.toPath)
	dst = codec.AppendHeaderString(dst, "From-Path", s.mc.uri)
	dst = codec.AppendHeaderString(dst, "Message-ID", s.msgID)
	dst = append(dst, "Byte-Range: "...)
	dst = codec.AppendByteRange(dst, rng)
	dst = append(dst, "\r\nFailure-Report: yes\r\n"...)
	if s.f.successReport {
		dst = append(dst, "Success-Report: yes\r\n"...)
	}
	if m.disposition != "" {
		dst = codec.AppendHeaderString(dst, "Content-Disposition", m.disposition)
	}
	dst = codec.AppendHeaderString(dst, "Content-Type", m.ctype)
	return append(dst, "\r\n"...)
}
