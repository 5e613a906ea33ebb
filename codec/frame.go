package codec

// span is a half-open byte range [off, end) of the buffer a Frame was parsed
// from. Offsets rather than slices keep the header table small and let a
// caller re-point a Frame at a copy of its bytes (see Frame.Rebase).
type span struct{ off, end uint32 }

type field struct {
	line  span // the whole header line, CRLF included
	name  span
	value span     // trimmed of surrounding blanks
	id    headerID // hUnknown for unknown names and for repeats of a known one
}

// Frame is a parsed MSRP start line and header block: a view of the caller's
// buffer, not a copy. Every []byte it returns is a sub-slice of that buffer
// and is valid only while the caller keeps the buffer unchanged. One Frame
// can be reused for any number of parses; it holds no memory of its own
// beyond its fixed header table.
type Frame struct {
	buf      []byte
	size     int  // bytes of the header block, or of the whole frame if bodyless
	bodyless bool // the end-line follows the headers directly
	flag     byte // continuation flag of a bodiless frame
	response bool
	code     int
	tid      span
	method   span
	comment  span
	fields   [MaxHeadersCap]field
	n        int
	known    [numHeaderIDs]int8
}

func (f *Frame) bytes(s span) []byte {
	if s.end == 0 {
		return nil
	}
	return f.buf[s.off:s.end:s.end]
}

// TID is the transaction id.
func (f *Frame) TID() []byte { return f.bytes(f.tid) }

// IsResponse reports whether the start line carries a status code.
func (f *Frame) IsResponse() bool { return f.response }

// Method is the request method (nil for a response).
func (f *Frame) Method() []byte { return f.bytes(f.method) }

// Code is the response status code (0 for a request).
func (f *Frame) Code() int { return f.code }

// Comment is the response's reason phrase, possibly empty.
func (f *Frame) Comment() []byte { return f.bytes(f.comment) }

// HeaderLen is the number of bytes the start line and headers take, up to
// and including the blank line before a body; for a bodiless frame it is the
// length of the whole frame, end-line included.
func (f *Frame) HeaderLen() int { return f.size }

// HasBody reports whether a body (possibly empty) follows the header block.
// When false the frame is complete and Flag holds its continuation flag.
func (f *Frame) HasBody() bool { return !f.bodyless }

// Flag is the continuation flag ('$', '+' or '#') of a bodiless frame.
func (f *Frame) Flag() byte { return f.flag }

// NumHeaders is the number of header lines.
func (f *Frame) NumHeaders() int { return f.n }

// HeaderAt returns the i-th header's name and value, in wire order.
func (f *Frame) HeaderAt(i int) (name, value []byte) {
	h := &f.fields[i]
	return f.bytes(h.name), f.buf[h.value.off:h.value.end:h.value.end]
}

// Header returns the value of the first header called name (ASCII case
// ignored), or nil.
func (f *Frame) Header(name string) []byte {
	for i := 0; i < f.n; i++ {
		if equalFold(f.bytes(f.fields[i].name), name) {
			return f.value(i)
		}
	}
	return nil
}

func (f *Frame) value(i int) []byte {
	v := f.fields[i].value
	return f.buf[v.off:v.end:v.end]
}

func (f *Frame) known1(id headerID) []byte {
	i := f.known[id]
	if i < 0 {
		return nil
	}
	return f.value(int(i))
}

// has reports whether the frame carries a well-known header; it tells an
// empty value from an absent one.
func (f *Frame) has(id headerID) bool { return f.known[id] >= 0 }

func (f *Frame) ToPath() []byte             { return f.known1(hToPath) }
func (f *Frame) FromPath() []byte           { return f.known1(hFromPath) }
func (f *Frame) MessageID() []byte          { return f.known1(hMessageID) }
func (f *Frame) ContentType() []byte        { return f.known1(hContentType) }
func (f *Frame) UsePath() []byte            { return f.known1(hUsePath) }
func (f *Frame) Authorization() []byte      { return f.known1(hAuthorization) }
func (f *Frame) WWWAuthenticate() []byte    { return f.known1(hWWWAuthenticate) }
func (f *Frame) AuthenticationInfo() []byte { return f.known1(hAuthenticationInfo) }
func (f *Frame) StatusHeader() []byte       { return f.known1(hStatus) }
func (f *Frame) KeepAlive() []byte          { return f.known1(hKeepAlive) }

// ByteRange parses the Byte-Range header. Absent, it is the RFC 4975 §7.1.1
// default: the whole message in this one chunk, 1-*/*.
func (f *Frame) ByteRange() (ByteRange, error) {
	if !f.has(hByteRange) {
		return ByteRange{Start: 1, End: Unknown, Total: Unknown}, nil
	}
	return ParseByteRange(f.known1(hByteRange))
}

// HasByteRange reports whether a Byte-Range header is present.
func (f *Frame) HasByteRange() bool { return f.has(hByteRange) }

// SuccessReport is the Success-Report value; absent means no.
func (f *Frame) SuccessReport() (Report, error) {
	if !f.has(hSuccessReport) {
		return ReportNo, nil
	}
	return parseReport(f.known1(hSuccessReport), false)
}

// FailureReport is the Failure-Report value; absent means yes.
func (f *Frame) FailureReport() (Report, error) {
	if !f.has(hFailureReport) {
		return ReportYes, nil
	}
	return parseReport(f.known1(hFailureReport), true)
}

// Status parses the Status header of a REPORT.
func (f *Frame) Status() (Status, error) {
	if !f.has(hStatus) {
		return Status{}, ErrBadValue
	}
	return ParseStatus(f.known1(hStatus))
}

// Expires, MinExpires and MaxExpires parse their headers; ok is false when
// the header is absent.
func (f *Frame) Expires() (secs int64, ok bool, err error) { return f.uint(hExpires) }
func (f *Frame) MinExpires() (int64, bool, error)          { return f.uint(hMinExpires) }
func (f *Frame) MaxExpires() (int64, bool, error)          { return f.uint(hMaxExpires) }

func (f *Frame) uint(id headerID) (int64, bool, error) {
	if !f.has(id) {
		return 0, false, nil
	}
	v, err := ParseUint(f.known1(id))
	return v, true, err
}

// Bytes is the header block (or whole bodiless frame) as parsed.
func (f *Frame) Bytes() []byte { return f.buf[:f.size:f.size] }

// Rebase points the frame at buf, which must hold the same bytes as the
// buffer it was parsed from (for example a copy that outlives a read buffer).
func (f *Frame) Rebase(buf []byte) { f.buf = buf }
