package load

import (
	"bytes"
	"strconv"

	"github.com/msrprelay/msrprelay/codec"
)

const tidLen = 16

// sendTemplate is one SEND frame with its header bytes computed once; per
// message only the transaction id (in three places) and the body are
// patched, in place, in the caller's write buffer.
type sendTemplate struct {
	frame   []byte
	tidOffs [3]int // start line, Message-ID, end-line
	bodyOff int
	bodyLen int
}

func newSendTemplate(toPath, fromPath string, bodySize int) *sendTemplate {
	t := &sendTemplate{bodyLen: bodySize}
	tid := bytes.Repeat([]byte{'0'}, tidLen)
	b := codec.AppendRequestLine(nil, tid, "SEND")
	t.tidOffs[0] = len("MSRP ")
	b = codec.AppendHeaderString(b, "To-Path", toPath)
	b = codec.AppendHeaderString(b, "From-Path", fromPath)
	t.tidOffs[1] = len(b) + len("Message-ID: ")
	b = codec.AppendHeader(b, "Message-ID", tid)
	n := strconv.Itoa(bodySize)
	b = codec.AppendHeaderString(b, "Byte-Range", "1-"+n+"/"+n)
	b = codec.AppendHeaderString(b, "Failure-Report", "yes")
	b = codec.AppendHeaderString(b, "Content-Type", "text/plain")
	b = append(b, "\r\n"...)
	t.bodyOff = len(b)
	b = append(b, make([]byte, bodySize)...)
	t.tidOffs[2] = len(b) + len("\r\n-------")
	t.frame = codec.AppendBodyEnd(b, tid, '$')
	return t
}

// appendSend appends the SEND for seq of pair to dst, stamped with ts.
func (t *sendTemplate) appendSend(dst []byte, pair int, seq uint64, ts int64) []byte {
	base := len(dst)
	dst = append(dst, t.frame...)
	f := dst[base:]
	tid := uint64(pair)<<40 | seq&(1<<40-1)
	for _, off := range t.tidOffs {
		putHex(f[off:off+tidLen], tid)
	}
	fillBody(f[t.bodyOff:t.bodyOff+t.bodyLen], seq, ts)
	return dst
}

// appendOK appends the 200 answering the SEND parsed in f, from the
// receiver whose URI is self (RFC 4975 §7.2: To-Path is the first URI of
// the request's From-Path).
func appendOK(dst []byte, f *codec.Frame, self []byte) []byte {
	to := f.FromPath()
	if i := bytes.IndexByte(to, ' '); i >= 0 {
		to = to[:i]
	}
	dst = codec.AppendResponseLine(dst, f.TID(), 200, "OK")
	dst = codec.AppendHeader(dst, "To-Path", to)
	dst = codec.AppendHeader(dst, "From-Path", self)
	return codec.AppendEndLine(dst, f.TID(), '$')
}
