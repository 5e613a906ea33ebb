package codec

import (
	"bytes"
	"encoding/binary"
)

// Progress remembers, per connection, how much of the pending bytes a
// previous Parse already searched for the end of a header block. With it a
// header that trickles in one byte at a time costs linear rather than
// quadratic time. The zero value starts at the beginning; Parse resets it
// whenever it returns anything but ErrNeedMore.
type Progress struct{ searched int }

const (
	endLineDashes = "-------"
	msrpPrefix    = "MSRP "
)

// Parse reads one frame's start line and header block from the front of
// buf. It returns ErrNeedMore until the block is complete (for a bodiless
// frame, until its end-line is complete too), and then the number of bytes
// the block takes (HeaderLen).
//
// On a *Error with Close set the stream is lost; on any other *Error the
// frame is still delimited: f holds its TID, paths (when they parsed) and
// HeaderLen, and the caller may skip its body and answer it. lim may be nil
// for the defaults; p may be nil when buf is known to be complete.
func (f *Frame) Parse(buf []byte, lim *Limits, p *Progress) (int, error) {
	if lim == nil {
		lim = &defaultLimits
	}
	var local Progress
	if p == nil {
		p = &local
	}
	end, bodyless, err := findBlockEnd(buf, lim, p)
	if err != nil {
		return 0, err
	}
	p.searched = 0
	return f.parseBlock(buf[:end], bodyless, lim)
}

var defaultLimits = Limits{}.WithDefaults()

// findBlockEnd looks for the line that ends a header block: a blank line
// (a body follows) or an end-line (the frame has no body). It only looks at
// lines it has not looked at before.
func findBlockEnd(buf []byte, lim *Limits, p *Progress) (end int, bodyless bool, err error) {
	if !startsLikeMSRP(buf) {
		return 0, false, ErrBadStartLine
	}
	pos := p.searched
	for {
		i := bytes.IndexByte(buf[pos:], '\n')
		if i < 0 {
			p.searched = pos
			if len(buf)-pos > lim.MaxLine {
				return 0, false, ErrLineTooLong
			}
			if len(buf) > lim.MaxHeaderBlock {
				return 0, false, ErrHeaderTooLarge
			}
			return 0, false, ErrNeedMore
		}
		line := buf[pos : pos+i+1]
		next := pos + i + 1
		if len(line) > lim.MaxLine {
			return 0, false, ErrLineTooLong
		}
		if next > lim.MaxHeaderBlock {
			return 0, false, ErrHeaderTooLarge
		}
		if pos > 0 {
			if len(line) <= 2 {
				if len(line) == 2 && line[0] == '\r' {
					return next, false, nil
				}
				return 0, false, ErrBareLF
			}
			if bytes.HasPrefix(line, []byte(endLineDashes)) {
				return next, true, nil
			}
		}
		pos = next
	}
}

// startsLikeMSRP rejects a stream that cannot become a start line as soon as
// its first bytes arrive, rather than after MaxLine bytes of garbage.
func startsLikeMSRP(buf []byte) bool {
	n := min(len(buf), len(msrpPrefix))
	return string(buf[:n]) == msrpPrefix[:n]
}

func (f *Frame) reset(block []byte, bodyless bool) {
	f.buf = block
	f.size = len(block)
	f.bodyless = bodyless
	f.flag = 0
	f.response = false
	f.code = 0
	f.tid, f.method, f.comment = span{}, span{}, span{}
	f.n = 0
	for i := range f.known {
		f.known[i] = -1
	}
}

// parseBlock parses a complete header block. Once the start line is good
// the frame is delimited, so later faults become statuses (400) and parsing
// goes on to fill in as much as it can.
func (f *Frame) parseBlock(block []byte, bodyless bool, lim *Limits) (int, error) {
	f.reset(block, bodyless)
	pos, err := f.parseStartLine(block)
	if err != nil {
		return 0, err
	}
	var status error
	note := func(e error) {
		if status == nil {
			status = e
		}
	}
	for pos < len(block) {
		i := bytes.IndexByte(block[pos:], '\n')
		lineEnd := pos + i + 1
		line := block[pos:lineEnd]
		if line[len(line)-2] != '\r' {
			return 0, ErrBareLF
		}
		if lineEnd == len(block) {
			if bodyless {
				if err := f.parseEndLine(line); err != nil {
					return 0, err
				}
			}
			break
		}
		if f.n == lim.MaxHeaders {
			note(ErrTooManyHeaders)
		} else if err := f.addField(pos, lineEnd); err != nil {
			note(err)
		}
		pos = lineEnd
	}
	if !f.has(hToPath) || !f.has(hFromPath) {
		note(ErrMissingPath)
	}
	if f.response && !bodyless {
		note(ErrResponseBody)
	}
	return len(block), status
}

// parseStartLine reads "MSRP SP transact-id SP (method | code [SP comment])".
func (f *Frame) parseStartLine(block []byte) (int, error) {
	eol := bytes.IndexByte(block, '\n')
	if eol < 1 || block[eol-1] != '\r' {
		return 0, ErrBadStartLine
	}
	line := block[len(msrpPrefix) : eol-1]
	sp := bytes.IndexByte(line, ' ')
	if sp < 0 || !ValidTID(line[:sp]) {
		return 0, ErrBadStartLine
	}
	base := uint32(len(msrpPrefix))
	f.tid = span{base, base + uint32(sp)}
	rest := line[sp+1:]
	restOff := base + uint32(sp+1)
	if code, ok := parseCode(rest); ok {
		f.response = true
		f.code = code
		if len(rest) > 3 {
			f.comment = span{restOff + 4, restOff + uint32(len(rest))}
		}
		return eol + 1, nil
	}
	if len(rest) == 0 {
		return 0, ErrBadStartLine
	}
	if !validMethod(rest) {
		return 0, ErrBadStartLine
	}
	f.method = span{restOff, restOff + uint32(len(rest))}
	return eol + 1, nil
}

// validMethod accepts RFC 4975's upper-case letters and the underscore:
// sipsimple (Blink, SylkServer) sends FILE_OFFSET before every outgoing
// file transfer, and msrplib parses methods as [A-Z_]+. A relay forwards
// methods it does not know, so refusing one would break those transfers.
func validMethod(m []byte) bool {
	for _, c := range m {
		if (c < 'A' || c > 'Z') && c != '_' {
			return false
		}
	}
	return true
}

// parseCode reads a 3DIGIT status code followed by the end or a space.
func parseCode(b []byte) (int, bool) {
	if len(b) < 3 || (len(b) > 3 && b[3] != ' ') {
		return 0, false
	}
	code := 0
	for _, c := range b[:3] {
		if c < '0' || c > '9' {
			return 0, false
		}
		code = code*10 + int(c-'0')
	}
	return code, true
}

// parseEndLine checks "-------" transact-id flag CRLF against the start line.
func (f *Frame) parseEndLine(line []byte) error {
	tid := f.TID()
	want := len(endLineDashes) + len(tid) + 3
	if len(line) != want || !bytes.Equal(line[len(endLineDashes):len(endLineDashes)+len(tid)], tid) {
		return ErrBadEndLine
	}
	flag := line[want-3]
	if !IsFlag(flag) {
		return ErrBadEndLine
	}
	f.flag = flag
	return nil
}

// addField records "name: value CRLF" at block[start:end].
func (f *Frame) addField(start, end int) error {
	line := f.buf[start:end]
	colon := bytes.IndexByte(line, ':')
	if colon <= 0 {
		return ErrBadHeader
	}
	for _, c := range line[:colon] {
		if !isTokenChar(c) {
			return ErrBadHeader
		}
	}
	vs, ve := colon+1, len(line)-2
	for vs < ve && isBlank(line[vs]) {
		vs++
	}
	for ve > vs && isBlank(line[ve-1]) {
		ve--
	}
	if hasControl(line[vs:ve]) {
		return ErrBadHeader
	}
	id := lookupHeader(line[:colon])
	if id != hUnknown && f.known[id] >= 0 {
		if id == hToPath || id == hFromPath {
			return ErrDuplicatePath
		}
		id = hUnknown
	}
	s := uint32(start)
	f.fields[f.n] = field{
		line:  span{s, uint32(end)},
		name:  span{s, s + uint32(colon)},
		value: span{s + uint32(vs), s + uint32(ve)},
		id:    id,
	}
	if id != hUnknown {
		f.known[id] = int8(f.n)
	}
	f.n++
	return nil
}

// hasControl reports a control character other than HTAB in a header
// value: RFC 4975's header values are text, and a NUL or a bare CR passed
// on would reach the next hop, whose parser may read it otherwise.
func hasControl(v []byte) bool {
	// Eight bytes at a time: a word with no byte below 0x20 and none
	// equal to 0x7f is skipped whole; one that may hold one (a tab
	// does too) is checked byte by byte.
	for len(v) >= 8 {
		x := binary.LittleEndian.Uint64(v)
		const ones, highs = 0x0101010101010101, 0x8080808080808080
		below := (x - 0x20*ones) & ^x & highs
		del := x ^ 0x7f*ones
		del = (del - ones) & ^del & highs
		if below|del != 0 && hasControlByte(v[:8]) {
			return true
		}
		v = v[8:]
	}
	return hasControlByte(v)
}

func hasControlByte(v []byte) bool {
	for _, c := range v {
		if (c < 0x20 && c != '\t') || c == 0x7f {
			return true
		}
	}
	return false
}

func isBlank(c byte) bool { return c == ' ' || c == '\t' }

// isTokenChar is RFC 4975's token: ALPHANUM and "-.!%*_+`'~".
func isTokenChar(c byte) bool { return tokenChars[c] }

var tokenChars = func() (t [256]bool) {
	for c := 0; c < 256; c++ {
		t[c] = isAlnum(byte(c))
	}
	for _, c := range []byte("-.!%*_+`'~") {
		t[c] = true
	}
	return t
}()

func isAlnum(c byte) bool {
	return ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') || ('0' <= c && c <= '9')
}

// ValidTID reports whether b is an RFC 4975 ident:
// ALPHANUM 3*31(ALPHANUM / "." / "-" / "+" / "%" / "=").
func ValidTID(b []byte) bool {
	if len(b) < 4 || len(b) > 32 || !isAlnum(b[0]) {
		return false
	}
	for _, c := range b[1:] {
		if !isAlnum(c) && c != '.' && c != '-' && c != '+' && c != '%' && c != '=' {
			return false
		}
	}
	return true
}

// IsFlag reports whether c is a continuation flag: '$' (last chunk), '+'
// (more follow) or '#' (aborted).
func IsFlag(c byte) bool { return c == '$' || c == '+' || c == '#' }
