package endpoint

import (
	"strings"

	"github.com/msrprelay/msrprelay/codec"
)

// Frame is a received frame's header, copied out of the read buffer, and
// its body when it was collected (Reader.ReadFrame).
type Frame struct {
	TID     string
	Method  string // empty for a response
	Code    int
	Comment string
	Headers [][2]string
	HasBody bool
	Body    []byte
	// Flag is the continuation flag: a bodiless frame's at once, a body's
	// once the body has been read.
	Flag byte
	// Malformed is the status error of a frame that parsed but is
	// malformed (a codec.Error without Close): the frame is delimited, so
	// it can be answered and skipped and the stream goes on.
	Malformed error
}

// Header returns the first value of the named header ("" if absent).
func (f *Frame) Header(name string) string {
	for _, h := range f.Headers {
		if strings.EqualFold(h[0], name) {
			return h[1]
		}
	}
	return ""
}

func copyHead(f *codec.Frame) *Frame {
	h := &Frame{TID: string(f.TID()), Method: string(f.Method()), Code: f.Code(), Comment: string(f.Comment()), HasBody: f.HasBody(), Flag: f.Flag()}
	for i := 0; i < f.NumHeaders(); i++ {
		k, v := f.HeaderAt(i)
		h.Headers = append(h.Headers, [2]string{string(k), string(v)})
	}
	return h
}

// FirstURI is the first URI of a path header.
func FirstURI(path string) string {
	first, _ := codec.NextURI([]byte(path))
	return string(first)
}

// LastURI is the last URI of a path header.
func LastURI(path string) string { return string(codec.LastURI([]byte(path))) }
