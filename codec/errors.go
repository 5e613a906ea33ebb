package codec

import "errors"

// ErrNeedMore means the bytes so far are a valid beginning but not yet a
// whole header (or end-line): call again with more.
var ErrNeedMore = errors.New("msrp: need more bytes")

// Error is a protocol error. Errors are package-level values, so returning
// one allocates nothing, and callers compare with errors.Is or a type switch.
type Error struct {
	// Status is the MSRP status code to answer a request with (400, 413...).
	// Zero means there is nothing sensible to answer.
	Status int
	// Close means the stream is out of sync (no frame boundary can be found)
	// and the connection must be closed.
	Close bool
	Msg   string
}

func (e *Error) Error() string { return "msrp: " + e.Msg }

// Violations: the frame boundary is lost, close the connection.
var (
	ErrBadStartLine   = &Error{Close: true, Msg: "malformed start line"}
	ErrLineTooLong    = &Error{Close: true, Msg: "line too long"}
	ErrHeaderTooLarge = &Error{Close: true, Msg: "header block too large"}
	ErrBareLF         = &Error{Close: true, Msg: "line not ended by CRLF"}
	ErrBadEndLine     = &Error{Close: true, Msg: "malformed end-line"}
)

// Statuses: the frame is delimited, answer it (if it is a request) and go on.
var (
	ErrBadHeader      = &Error{Status: 400, Msg: "malformed header line"}
	ErrTooManyHeaders = &Error{Status: 400, Msg: "too many headers"}
	ErrMissingPath    = &Error{Status: 400, Msg: "missing To-Path or From-Path"}
	ErrDuplicatePath  = &Error{Status: 400, Msg: "duplicate To-Path or From-Path"}
	ErrResponseBody   = &Error{Status: 400, Msg: "response with a body"}
	ErrBodyTooLarge   = &Error{Status: 413, Msg: "body larger than allowed"}
	ErrBadURI         = &Error{Status: 400, Msg: "malformed MSRP URI"}
	ErrBadByteRange   = &Error{Status: 400, Msg: "malformed Byte-Range"}
	ErrBadValue       = &Error{Status: 400, Msg: "malformed header value"}
	// ErrTooLarge is a well-formed number beyond what this codec keeps
	// (more than maxDigits digits): too large, not malformed.
	ErrTooLarge  = &Error{Status: 400, Msg: "number too large"}
	ErrBadDigest = &Error{Status: 400, Msg: "malformed digest parameters"}
)

// IsClose reports whether err means the connection must be closed.
func IsClose(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Close
}
