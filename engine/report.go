package engine

import (
	"strconv"

	"github.com/rs/zerolog"

	"github.com/msrprelay/msrprelay/codec"
)

// failTxn ends a transaction that will get no good response: a SEND turns
// into a failure REPORT when its Failure-Report asks for one (timeouts only
// for "yes", RFC 4976 §6.4.1); other requests get the status as their
// response, so no client waits forever for an AUTH or a NICKNAME.
func (r *Relay) failTxn(w *Worker, t *txn, code int, comment string) {
	defer freeTxn(t)
	switch t.kind {
	case txnSend:
		if t.fr == codec.ReportYes || (t.fr == codec.ReportPartial && code != 408) {
			r.sendReport(w, t, code, comment)
		}
	default:
		w.scratch = codec.AppendResponseLine(w.scratch[:0], t.origTID.bytes(), code, comment)
		w.scratch = codec.AppendHeader(w.scratch, "To-Path", t.fromPath())
		w.scratch = codec.AppendHeader(w.scratch, "From-Path", t.ourURI())
		w.scratch = codec.AppendEndLine(w.scratch, t.origTID.bytes(), '$')
		t.origin.out.writeFrame(w, nil, w.scratch)
	}
}

// sendReport sends a failure REPORT for t to the connection its SEND came
// from (RFC 4975 §7.1.2, RFC 4976 §6.4.1): To-Path is the SEND's From-Path,
// From-Path this relay's URI, with the SEND's Message-ID and Byte-Range.
func (r *Relay) sendReport(w *Worker, t *txn, code int, comment string) {
	var id tid
	newTIDPrefix(&id)
	b := codec.AppendRequestLine(w.scratch[:0], id.bytes(), "REPORT")
	b = codec.AppendHeader(b, "To-Path", t.fromPath())
	b = codec.AppendHeader(b, "From-Path", t.ourURI())
	if len(t.messageID()) > 0 {
		b = codec.AppendHeader(b, "Message-ID", t.messageID())
	}
	b = append(b, "Byte-Range: "...)
	b = codec.AppendByteRange(b, t.rng)
	b = append(b, "\r\nStatus: "...)
	b = codec.AppendStatus(b, code, comment)
	b = append(b, '\r', '\n')
	b = codec.AppendEndLine(b, id.bytes(), '$')
	w.scratch = b
	if t.origin.out.writeFrame(w, nil, b) {
		r.cfg.Metrics.Add(ReportsSent, 1)
		t.origin.Note(zerolog.InfoLevel, "failure report sent").Int("status", code).Str("range", strconv.FormatInt(t.rng.Start, 10)).Send()
	}
}
