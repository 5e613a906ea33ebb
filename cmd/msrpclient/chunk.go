package main

import (
	"errors"
	"fmt"
	"io"

	"github.com/msrprelay/msrprelay/codec"
	"github.com/msrprelay/msrprelay/endpoint"
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
	*tid = endpoint.NewTIDFor(b)
	s.frame = s.chunkHeader(m, rng).AppendHeader(s.frame[:0], *tid)
	s.frame = append(s.frame, b...)
	s.frame = codec.AppendBodyEnd(s.frame, []byte(*tid), flag)
	return s.mc.write(s.frame)
}

// sendLarge streams the body from the file through s.buf. The file is read
// twice: first to pick a transaction id whose end-line it does not contain.
func (s *sender) sendLarge(m *outMessage, body *io.SectionReader, rng codec.ByteRange, flag byte, tid *string) error {
	var err error
	if *tid, err = endpoint.NewTIDForSection(body, s.buf); err != nil {
		return fmt.Errorf("%w: %w", errRead, err)
	}
	s.frame = s.chunkHeader(m, rng).AppendHeader(s.frame[:0], *tid)
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

// chunkHeader is the header of m's chunk covering rng.
func (s *sender) chunkHeader(m *outMessage, rng codec.ByteRange) *endpoint.Chunk {
	return &endpoint.Chunk{ToPath: s.toPath, FromPath: s.mc.uri, MessageID: s.msgID, Range: rng,
		SuccessReport: s.f.successReport, Disposition: m.disposition, ContentType: m.ctype}
}
