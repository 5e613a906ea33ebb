package codec

// Rewrite says how to forward a parsed header block (RFC 4976 §6.4): a new
// transaction id, new paths, optionally a new Byte-Range. Every other header
// line is copied byte for byte, in its original order.
type Rewrite struct {
	TID []byte
	// ToPath replaces the To-Path value; nil keeps it.
	ToPath []byte
	// FromPrefix is put in front of the From-Path value, with a space
	// between (a relay pushing its own URI); nil adds nothing.
	FromPrefix []byte
	// FromPath replaces the From-Path value (before FromPrefix); nil keeps it.
	FromPath []byte
	// ByteRange, when SetByteRange is true, is written as the third header,
	// right after From-Path, and any Byte-Range the frame had is dropped. A
	// fixed place lets a relay that cuts a chunk rebuild the next chunk's
	// header from the one it wrote.
	ByteRange    ByteRange
	SetByteRange bool
}

// AppendRewrite writes f's header block rewritten by rw: start line with the
// new tid, To-Path and From-Path first, the other headers as they came, and
// the blank line when a body follows. For a bodiless frame it stops after
// the headers: the caller writes the end-line (AppendEndLine) with the new
// tid and the flag it chooses. It allocates nothing when dst has room;
// RewriteLen tells how much room.
func AppendRewrite(dst []byte, f *Frame, rw *Rewrite) []byte {
	dst = append(dst, msrpPrefix...)
	dst = append(dst, rw.TID...)
	dst = append(dst, ' ')
	if f.response {
		dst = appendCode(dst, f.code)
		if f.comment.end != 0 {
			dst = append(dst, ' ')
			dst = append(dst, f.Comment()...)
		}
	} else {
		dst = append(dst, f.Method()...)
	}
	dst = append(dst, "\r\nTo-Path: "...)
	dst = append(dst, pick(rw.ToPath, f.ToPath())...)
	dst = append(dst, "\r\nFrom-Path: "...)
	if rw.FromPrefix != nil {
		dst = append(dst, rw.FromPrefix...)
		dst = append(dst, ' ')
	}
	dst = append(dst, pick(rw.FromPath, f.FromPath())...)
	dst = append(dst, "\r\n"...)
	if rw.SetByteRange {
		dst = appendByteRangeHeader(dst, rw.ByteRange)
	}
	for i := 0; i < f.n; i++ {
		switch f.idOf(i) {
		case hToPath, hFromPath:
			continue
		case hByteRange:
			if rw.SetByteRange {
				continue
			}
		}
		l := f.fields[i].line
		dst = append(dst, f.buf[l.off:l.end]...)
	}
	if !f.bodyless {
		dst = append(dst, "\r\n"...)
	}
	return dst
}

// RewriteLen is len(AppendRewrite(nil, f, rw)), computed without writing.
func RewriteLen(f *Frame, rw *Rewrite) int {
	n := len(msrpPrefix) + len(rw.TID) + 1
	if f.response {
		n += 3
		if f.comment.end != 0 {
			n += 1 + len(f.Comment())
		}
	} else {
		n += len(f.Method())
	}
	n += len("\r\nTo-Path: ") + len(pick(rw.ToPath, f.ToPath()))
	n += len("\r\nFrom-Path: ") + len(pick(rw.FromPath, f.FromPath())) + 2
	if rw.FromPrefix != nil {
		n += len(rw.FromPrefix) + 1
	}
	for i := 0; i < f.n; i++ {
		switch f.idOf(i) {
		case hToPath, hFromPath:
			continue
		case hByteRange:
			if rw.SetByteRange {
				continue
			}
		}
		l := f.fields[i].line
		n += int(l.end - l.off)
	}
	if rw.SetByteRange {
		n += byteRangeHeaderLen(rw.ByteRange)
	}
	if !f.bodyless {
		n += 2
	}
	return n
}

// idOf is the header id of field i. Only the first of repeated well-known
// headers has one: a second Byte-Range is copied like an unknown header.
func (f *Frame) idOf(i int) headerID { return f.fields[i].id }

func pick(override, original []byte) []byte {
	if override != nil {
		return override
	}
	return original
}

func appendByteRangeHeader(dst []byte, r ByteRange) []byte {
	dst = append(dst, "Byte-Range: "...)
	dst = AppendByteRange(dst, r)
	return append(dst, "\r\n"...)
}

func byteRangeHeaderLen(r ByteRange) int {
	var tmp [64]byte
	return len(appendByteRangeHeader(tmp[:0], r))
}

// AppendEndLine writes "-------" tid flag CRLF: the end of a bodiless frame
// whose headers were just written.
func AppendEndLine(dst, tid []byte, flag byte) []byte {
	dst = append(dst, endLineDashes...)
	dst = append(dst, tid...)
	return append(dst, flag, '\r', '\n')
}

// AppendBodyEnd writes CRLF "-------" tid flag CRLF: the end of a body.
func AppendBodyEnd(dst, tid []byte, flag byte) []byte {
	return AppendEndLine(append(dst, '\r', '\n'), tid, flag)
}

// AppendRequestLine writes "MSRP tid METHOD CRLF".
func AppendRequestLine(dst, tid []byte, method string) []byte {
	dst = append(dst, msrpPrefix...)
	dst = append(dst, tid...)
	dst = append(dst, ' ')
	dst = append(dst, method...)
	return append(dst, '\r', '\n')
}

// AppendResponseLine writes "MSRP tid code[ comment] CRLF".
func AppendResponseLine(dst, tid []byte, code int, comment string) []byte {
	dst = append(dst, msrpPrefix...)
	dst = append(dst, tid...)
	dst = append(dst, ' ')
	dst = appendCode(dst, code)
	if comment != "" {
		dst = append(dst, ' ')
		dst = append(dst, comment...)
	}
	return append(dst, '\r', '\n')
}

// AppendHeader writes "name: value CRLF".
func AppendHeader(dst []byte, name string, value []byte) []byte {
	dst = append(dst, name...)
	dst = append(dst, ':', ' ')
	dst = append(dst, value...)
	return append(dst, '\r', '\n')
}

// AppendHeaderString is AppendHeader for a string value.
func AppendHeaderString(dst []byte, name, value string) []byte {
	dst = append(dst, name...)
	dst = append(dst, ':', ' ')
	dst = append(dst, value...)
	return append(dst, '\r', '\n')
}

// AppendHeaderInt writes "name: n CRLF".
func AppendHeaderInt(dst []byte, name string, n int64) []byte {
	dst = append(dst, name...)
	dst = append(dst, ':', ' ')
	dst = appendInt(dst, n)
	return append(dst, '\r', '\n')
}
