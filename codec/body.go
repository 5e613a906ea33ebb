package codec

import "bytes"

// endPattern is "CRLF -------" followed by a transaction id: what precedes a
// chunk's continuation flag on the wire.
type endPattern struct {
	b [len("\r\n"+endLineDashes) + 32]byte
	n uint8
}

func (p *endPattern) set(tid []byte) {
	n := copy(p.b[:], "\r\n"+endLineDashes)
	n += copy(p.b[n:], tid)
	p.n = uint8(n)
}

func (p *endPattern) bytes() []byte { return p.b[:p.n] }

// BodyScanner finds the end of a chunk's body in a stream without holding
// the body: each Scan says how many leading bytes of the caller's buffer are
// body, to be passed on and discarded, and holds back only a tail that could
// still be the start of the end-line. Memory is constant whatever the size
// of the body.
//
// It can also watch for a second end-line, the one a relay will write when
// it forwards the body under its own transaction id, so that the relay never
// forwards a body that its next hop would read as ending early.
type BodyScanner struct {
	in      endPattern
	out     endPattern // watched; n == 0 when not watching
	seen    int64      // body bytes released
	limit   int64      // 0: unlimited
	started bool
}

// ScanResult says what Scan found at the front of the buffer.
type ScanResult struct {
	// Body is the number of leading bytes that are body.
	Body int
	// End, when non-zero, is the offset just past the end-line: the chunk is
	// complete and buf[Body:End] is its (CRLF-prefixed) end-line.
	End int
	// Flag is the continuation flag when End is set.
	Flag byte
	// Collision means buf[Body:] starts with the watched end-line: the body
	// must be cut before it (see Watch).
	Collision bool
}

// Reset starts scanning the body of the chunk with transaction id tid.
// A positive limit caps the body size (ErrBodyTooLarge past it).
func (s *BodyScanner) Reset(tid []byte, limit int64) {
	s.in.set(tid)
	s.out.n = 0
	s.seen = 0
	s.limit = limit
	s.started = false
}

// Watch makes Scan stop before any occurrence of CRLF "-------" tid in the
// body. Call it again with a new tid after cutting the chunk there.
func (s *BodyScanner) Watch(tid []byte) { s.out.set(tid) }

// Released is the number of body bytes released so far.
func (s *BodyScanner) Released() int64 { return s.seen }

// Scan examines buf, which must start at the first body byte not yet
// released. It never asks for bytes it has released again.
func (s *BodyScanner) Scan(buf []byte) (ScanResult, error) {
	if !s.started {
		if r, done := s.scanEmptyBody(buf); done {
			return r, nil
		}
	}
	r := s.scanBody(buf)
	if s.out.n > 0 {
		if j := indexCRLFPattern(buf[:r.Body], s.out.bytes()); j >= 0 {
			r = ScanResult{Body: j, Collision: true}
		}
	}
	s.seen += int64(r.Body)
	if s.limit > 0 && s.seen > s.limit {
		return r, ErrBodyTooLarge
	}
	return r, nil
}

// scanEmptyBody accepts an end-line right after the blank line, without the
// CRLF the grammar puts between body and end-line: some senders write an
// empty body that way. A conforming body cannot start with its own end-line,
// so this reading is never wrong for a conforming sender. done is true when
// r is the whole answer: the chunk ended, or too few bytes arrived to tell.
func (s *BodyScanner) scanEmptyBody(buf []byte) (r ScanResult, done bool) {
	bare := s.in.bytes()[2:]
	need := len(bare) + 3
	if len(buf) < need && (len(buf) == 0 || hasPrefixOfEndLine(buf, bare)) {
		return ScanResult{}, true
	}
	s.started = true
	if len(buf) >= need && bytes.HasPrefix(buf, bare) && isEndTail(buf[len(bare):]) {
		return ScanResult{End: need, Flag: buf[len(bare)]}, true
	}
	return ScanResult{}, false
}

// hasPrefixOfEndLine reports whether b could still grow into pat followed by a
// flag and CRLF.
func hasPrefixOfEndLine(b, pat []byte) bool {
	if len(b) <= len(pat) {
		return bytes.HasPrefix(pat, b)
	}
	if !bytes.HasPrefix(b, pat) {
		return false
	}
	tail := b[len(pat):]
	return IsFlag(tail[0]) && (len(tail) < 2 || tail[1] == '\r')
}

// isEndTail checks flag CRLF at the front of b (len(b) >= 3).
func isEndTail(b []byte) bool { return IsFlag(b[0]) && b[1] == '\r' && b[2] == '\n' }

func (s *BodyScanner) scanBody(buf []byte) ScanResult {
	pat := s.in.bytes()
	for from := 0; ; {
		i := indexCRLFPattern(buf[from:], pat)
		if i < 0 {
			break
		}
		i += from
		tail := buf[i+len(pat):]
		if len(tail) < 3 {
			if hasPrefixOfEndLine(buf[i:], pat) {
				return ScanResult{Body: i}
			}
		} else if isEndTail(tail) {
			return ScanResult{Body: i, End: i + len(pat) + 3, Flag: tail[0]}
		}
		from = i + 1
	}
	return ScanResult{Body: len(buf) - s.holdBack(buf)}
}

// indexCRLFPattern is bytes.Index(buf, pat) for a pat that starts with CRLF
// "-------". It searches for the part after the CRLF and checks the CRLF
// before it: in text a CR comes every line, a run of dashes rarely, so the
// SIMD search for the first byte stops far less often.
func indexCRLFPattern(buf, pat []byte) int {
	rest := pat[2:]
	for from := 2; from <= len(buf)-len(rest); {
		i := bytes.Index(buf[from:], rest)
		if i < 0 {
			return -1
		}
		i += from
		if buf[i-2] == '\r' && buf[i-1] == '\n' {
			return i - 2
		}
		from = i + 1
	}
	return -1
}

// holdBack is the length of the longest tail of buf that could be the start
// of the end-line or of the watched end-line.
func (s *BodyScanner) holdBack(buf []byte) int {
	longest := max(int(s.in.n), int(s.out.n))
	for j := max(0, len(buf)-longest); j < len(buf); j++ {
		if buf[j] != '\r' {
			continue
		}
		t := buf[j:]
		if bytes.HasPrefix(s.in.bytes(), t) || (s.out.n > 0 && bytes.HasPrefix(s.out.bytes(), t)) {
			return len(t)
		}
	}
	return 0
}
