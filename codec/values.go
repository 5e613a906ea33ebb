package codec

import "strconv"

// Unknown marks a Byte-Range end or total given as '*'.
const Unknown int64 = -1

// ByteRange is "Byte-Range: start-end/total" (RFC 4975 §7.1.1). End and
// Total are Unknown for '*'. An empty SEND is 1-0/0.
type ByteRange struct {
	Start, End, Total int64
}

// maxDigits keeps every number within int64.
const maxDigits = 18

// ParseByteRange parses a Byte-Range value.
func ParseByteRange(b []byte) (ByteRange, error) {
	var r ByteRange
	var ok bool
	if r.Start, b, ok = parseNumber(b, false); !ok || r.Start < 1 || len(b) == 0 || b[0] != '-' {
		return r, ErrBadByteRange
	}
	if r.End, b, ok = parseNumber(b[1:], true); !ok || len(b) == 0 || b[0] != '/' {
		return r, ErrBadByteRange
	}
	if r.Total, b, ok = parseNumber(b[1:], true); !ok || len(b) != 0 {
		return r, ErrBadByteRange
	}
	if r.End != Unknown && r.End < r.Start-1 {
		return r, ErrBadByteRange
	}
	if r.Total != Unknown && r.End != Unknown && r.End > r.Total {
		return r, ErrBadByteRange
	}
	return r, nil
}

// parseNumber reads 1*DIGIT (or '*' when star is allowed) off the front of b.
func parseNumber(b []byte, star bool) (int64, []byte, bool) {
	if star && len(b) > 0 && b[0] == '*' {
		return Unknown, b[1:], true
	}
	var v int64
	n := 0
	for n < len(b) && '0' <= b[n] && b[n] <= '9' {
		if n == maxDigits {
			return 0, b, false
		}
		v = v*10 + int64(b[n]-'0')
		n++
	}
	return v, b[n:], n > 0
}

// ParseUint parses a header value that is 1*DIGIT (Expires and the like).
// Digits beyond int64 give ErrTooLarge, anything else not 1*DIGIT
// ErrBadValue.
func ParseUint(b []byte) (int64, error) {
	v, rest, ok := parseNumber(b, false)
	if ok && len(rest) == 0 {
		return v, nil
	}
	if len(b) > maxDigits && isDigits(b) {
		return 0, ErrTooLarge
	}
	return 0, ErrBadValue
}

func isDigits(b []byte) bool {
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// AppendByteRange writes "start-end/total".
func AppendByteRange(dst []byte, r ByteRange) []byte {
	dst = appendInt(dst, r.Start)
	dst = append(dst, '-')
	dst = appendIntOrStar(dst, r.End)
	dst = append(dst, '/')
	return appendIntOrStar(dst, r.Total)
}

func appendIntOrStar(dst []byte, v int64) []byte {
	if v == Unknown {
		return append(dst, '*')
	}
	return appendInt(dst, v)
}

func appendInt(dst []byte, v int64) []byte { return strconv.AppendInt(dst, v, 10) }

// Report is a Success-Report or Failure-Report value.
type Report uint8

const (
	ReportNo Report = iota
	ReportYes
	ReportPartial // Failure-Report only: report failures, not successes
)

func parseReport(b []byte, partialOK bool) (Report, error) {
	switch {
	case equalFold(b, "yes"):
		return ReportYes, nil
	case equalFold(b, "no"):
		return ReportNo, nil
	case partialOK && equalFold(b, "partial"):
		return ReportPartial, nil
	}
	return ReportNo, ErrBadValue
}

// Status is a REPORT's "Status: namespace SP code [SP comment]".
type Status struct {
	Namespace int // 000 for MSRP
	Code      int
	Comment   []byte
}

// ParseStatus parses a Status header value.
func ParseStatus(b []byte) (Status, error) {
	var s Status
	var ok bool
	if s.Namespace, ok = parseCode(b); !ok || len(b) < 5 {
		return s, ErrBadValue
	}
	rest := b[4:]
	if s.Code, ok = parseCode(rest); !ok {
		return s, ErrBadValue
	}
	if len(rest) > 4 {
		s.Comment = rest[4:]
	}
	return s, nil
}

// AppendStatus writes "000 code[ comment]".
func AppendStatus(dst []byte, code int, comment string) []byte {
	dst = append(dst, "000 "...)
	dst = appendCode(dst, code)
	if comment != "" {
		dst = append(dst, ' ')
		dst = append(dst, comment...)
	}
	return dst
}

func appendCode(dst []byte, code int) []byte {
	return append(dst, byte('0'+code/100%10), byte('0'+code/10%10), byte('0'+code%10))
}
