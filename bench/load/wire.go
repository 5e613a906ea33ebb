package load

import (
	"bytes"
	"slices"
	"strconv"

	"github.com/msrprelay/msrprelay/codec"
)

const tidLen = 16

// sendTemplate builds SEND frames with their fixed header bytes computed
// once; per message only the transaction id, the Byte-Range values, the
// body and the continuation flag are written, straight into the caller's
// write buffer.
//
// A plain message is one whole SEND. A file (fileSize > 0) is one message
// cut into chunks of bodyLen bytes: chunk seq covers bytes
// seq*bodyLen+1 .. of fileSize, every chunk but the last ends with '+',
// and all chunks share one Message-ID (RFC 4975 §7.1.1).
type sendTemplate struct {
	head     []byte // request line .. Message-ID line
	tidOff   int    // transaction id in the request line
	msgIDOff int    // Message-ID value, patched per message unless a file
	tail     []byte // the header lines after Byte-Range, and the blank line
	bodyLen  int
	fileSize int64
}

func newSendTemplate(toPath, fromPath string, bodySize int) *sendTemplate {
	return newChunkTemplate(toPath, fromPath, bodySize, 0)
}

// newChunkTemplate is newSendTemplate for a file of fileSize bytes sent
// in chunks of chunkSize (fileSize 0: separate messages).
func newChunkTemplate(toPath, fromPath string, chunkSize int, fileSize int64) *sendTemplate {
	t := &sendTemplate{bodyLen: chunkSize, fileSize: fileSize}
	tid := bytes.Repeat([]byte{'0'}, tidLen)
	b := codec.AppendRequestLine(nil, tid, "SEND")
	t.tidOff = len("MSRP ")
	b = codec.AppendHeaderString(b, "To-Path", toPath)
	b = codec.AppendHeaderString(b, "From-Path", fromPath)
	t.msgIDOff = len(b) + len("Message-ID: ")
	b = codec.AppendHeader(b, "Message-ID", tid)
	t.head = b
	b = codec.AppendHeaderString(nil, "Failure-Report", "yes")
	b = codec.AppendHeaderString(b, "Content-Type", "text/plain")
	t.tail = append(b, "\r\n"...)
	return t
}

// maxFrameLen bounds the length of any frame appendSend produces.
func (t *sendTemplate) maxFrameLen() int {
	return len(t.head) + len("Byte-Range: ") + 3*20 + 2 + len(t.tail) + t.bodyLen + len("\r\n-------") + tidLen + 3
}

// appendSend appends the SEND for seq of pair to dst, stamped with ts.
func (t *sendTemplate) appendSend(dst []byte, pair int, seq uint64, ts int64) []byte {
	tid := uint64(pair)<<40 | seq&(1<<40-1)
	base := len(dst)
	dst = append(dst, t.head...)
	putHex(dst[base+t.tidOff:base+t.tidOff+tidLen], tid)
	start, end, total := int64(1), int64(t.bodyLen), int64(t.bodyLen)
	flag := byte('$')
	if t.fileSize > 0 {
		// The whole file is one message: its Message-ID stays that of the
		// first chunk's transaction.
		putHex(dst[base+t.msgIDOff:base+t.msgIDOff+tidLen], uint64(pair)<<40)
		start = int64(seq)*int64(t.bodyLen) + 1
		end, total = min(start+int64(t.bodyLen)-1, t.fileSize), t.fileSize
		if end < total {
			flag = '+'
		}
	} else {
		putHex(dst[base+t.msgIDOff:base+t.msgIDOff+tidLen], tid)
	}
	dst = append(dst, "Byte-Range: "...)
	dst = strconv.AppendInt(dst, start, 10)
	dst = append(dst, '-')
	dst = strconv.AppendInt(dst, end, 10)
	dst = append(dst, '/')
	dst = strconv.AppendInt(dst, total, 10)
	dst = append(dst, "\r\n"...)
	dst = append(dst, t.tail...)
	n := int(end - start + 1)
	at := len(dst)
	dst = slices.Grow(dst, n)[:at+n]
	fillBody(dst[at:at+n], seq, ts)
	dst = append(dst, "\r\n-------"...)
	at = len(dst)
	dst = append(dst, t.head[t.tidOff:t.tidOff+tidLen]...)
	putHex(dst[at:at+tidLen], tid)
	return append(dst, flag, '\r', '\n')
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
