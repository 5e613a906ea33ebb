package engine

import (
	"bytes"

	"github.com/valyala/bytebufferpool"

	"github.com/msrprelay/msrprelay/codec"
)

// stream is a SEND chunk being forwarded while its body is still arriving.
// Its sender (the Conn receiving the chunk) hands it to the target's out
// (startStream, streamData, streamEnd); that out decides when its bytes
// reach the wire and may cut it into pieces, each a chunk of its own with
// a tid of its own.
//
// Fields below "out-owned" are guarded by the target out's mutex.
type stream struct {
	sender sender // the connection the chunk arrives on
	// hdr is the forwarded header of the first piece, written by
	// codec.AppendRewrite with Byte-Range third; the offsets let later
	// pieces reuse it with their own tid and range.
	hdr                     *bytebufferpool.ByteBuffer
	startEnd, rngOff, rngTo int
	start, total            int64 // the chunk's Byte-Range as received
	tmpl                    txn   // what every piece's transaction copies

	// out-owned
	prefix    tid // every piece's tid starts with it (the sender watches it)
	tid       tid // the open piece's tid
	pieces    int
	sentDone  int64 // body bytes in finished pieces
	chunkBody int64 // body bytes in the open piece
	headerOut bool
	queued    bool
	ended     bool
	done      bool
	flag      byte
	wait      bytebufferpool.ByteBuffer
	// received counts every body byte the sender gave, delivered or not.
	// Once the target closed (failed is set), bytes from failFrom on were
	// dropped and get a failure REPORT when the sender ends the chunk.
	received int64
	failed   *refusal
	failFrom int64
}

// newStream builds the forwarded header for f and the template for its
// transactions (tmpl is nil when none are kept). rw carries the new paths;
// the tid and range are set here.
func newStream(f *codec.Frame, rw *codec.Rewrite, prefix tid, rng codec.ByteRange, tmpl *txn) *stream {
	st := &stream{start: rng.Start, total: rng.Total, prefix: prefix}
	st.tid = st.prefix
	rw.TID = st.tid.bytes()
	rw.SetByteRange = true
	rw.ByteRange = codec.ByteRange{Start: rng.Start, End: codec.Unknown, Total: rng.Total}
	st.hdr = waitPool.Get()
	st.hdr.B = codec.AppendRewrite(st.hdr.B, f, rw)
	h := st.hdr.B
	st.startEnd = bytes.IndexByte(h, '\n') + 1
	st.rngOff = bytes.Index(h, []byte("\r\nByte-Range: ")) + len("\r\nByte-Range: ")
	st.rngTo = st.rngOff + bytes.IndexByte(h[st.rngOff:], '\r')
	if tmpl == nil {
		// The sender wants no failure reports: no piece keeps a
		// transaction (txnFor sees ReportNo).
		st.tmpl.fr = codec.ReportNo
		return st
	}
	st.tmpl = *tmpl
	st.tmpl.data = append([]byte(nil), tmpl.data...)
	return st
}

// appendHeader writes the open piece's header.
func (st *stream) appendHeader(dst []byte) []byte {
	if st.pieces == 0 {
		return append(dst, st.hdr.B...)
	}
	dst = codec.AppendRequestLine(dst, st.tid.bytes(), "SEND")
	dst = append(dst, st.hdr.B[st.startEnd:st.rngOff]...)
	dst = codec.AppendByteRange(dst, codec.ByteRange{Start: st.start + st.sentDone, End: codec.Unknown, Total: st.total})
	return append(dst, st.hdr.B[st.rngTo:]...)
}

// pieceTxn is the transaction for the piece about to be closed.
func (st *stream) pieceTxn() *txn {
	first := st.start + st.sentDone
	return st.txnFor(first, first+st.chunkBody-1)
}

// txnFor is a transaction for the body bytes first..last of the chunk, or
// nil when the sender asked for no failure reports.
func (st *stream) txnFor(first, last int64) *txn {
	t := st.wholeTxn()
	if t == nil {
		return nil
	}
	t.key = st.tid
	t.rng = codec.ByteRange{Start: first, End: last, Total: st.total}
	return t
}

// wholeTxn is a transaction for the whole chunk, as its template has it
// (the chunk of a stream that never started fails with it), or nil when
// the sender asked for no failure reports.
func (st *stream) wholeTxn() *txn {
	if st.tmpl.fr == codec.ReportNo {
		return nil
	}
	t := newTxn()
	data := t.data
	*t = st.tmpl
	t.data = data
	t.setData(st.tmpl.fromPath(), st.tmpl.ourURI(), st.tmpl.messageID())
	return t
}

// fail marks st as cut off by its target closing with status: the bytes
// not covered by a piece transaction already are dropped from here on.
// Called with the out's mutex held.
func (st *stream) fail(status *refusal) {
	st.failed = status
	st.failFrom = st.start + st.sentDone
	if st.headerOut {
		st.failFrom += st.chunkBody
	}
}

// droppedTxn is the transaction to fail for the bytes dropped since the
// target closed, or nil when none were. Called with the out's mutex held.
func (st *stream) droppedTxn() *txn {
	last := st.start + st.received - 1
	if st.failed == nil || last < st.failFrom {
		return nil
	}
	return st.txnFor(st.failFrom, last)
}

// nextPiece moves on after a cut.
func (st *stream) nextPiece() {
	st.sentDone += st.chunkBody
	st.chunkBody = 0
	st.headerOut = false
	st.pieces++
	st.tid.withPiece(&st.prefix, st.pieces)
}

// release returns the stream's buffers once its sender is done with it. The
// out no longer touches a stream that is done or whose out is closed.
func (st *stream) release() {
	if st.hdr != nil {
		waitPool.Put(st.hdr)
		st.hdr = nil
	}
}
