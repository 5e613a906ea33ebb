package engine

import (
	"net/netip"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/msrprelay/msrprelay/codec"
)

var nopAddr netip.AddrPort

// maxAtomic is the largest body forwarded as one unit when a whole chunk is
// already in the read buffer; larger ones stream and may be cut.
const maxAtomic = 64 << 10

func isMethod(m []byte, name string) bool { return string(m) == name }

// handleRequest decides what a request's header asks for and starts it. It
// returns how many bytes past the header it consumed (a complete frame
// forwarded at once).
func (c *Conn) handleRequest(w *Worker, f *codec.Frame, rest []byte) int {
	m := f.Method()
	if hook := c.relay.cfg.TestHook; hook != nil {
		hook(m)
	}
	if c.authLimitReached() {
		// Pipelined guesses past the limit are not checked: an AUTH gets
		// 403 at once (every AUTH is answered), anything else nothing.
		if isMethod(m, "AUTH") {
			c.respond(w, f, 403, "Forbidden", nil)
		}
		c.skipBody(f)
		return 0
	}
	if isMethod(m, "AUTH") && codec.PathLen(f.ToPath()) == 1 && c.relayClaimOK(f) {
		c.handleAuth(w, f)
		c.skipBody(f)
		return 0
	}
	if !c.relayed.Load() && codec.PathLen(f.FromPath()) > 1 {
		c.relayed.Store(true)
	}
	rt, st := c.routeChecked(w, f)
	if st != nil {
		c.reject(w, f, st)
		c.skipBody(f)
		return 0
	}
	c.succeeded.Store(true)
	return c.forward(w, f, rest, &rt)
}

// routeChecked applies the checks a request to forward must pass, then
// finds its route; a refusal is the status to answer with.
func (c *Conn) routeChecked(w *Worker, f *codec.Frame) (route, *refusal) {
	m := f.Method()
	switch {
	case !c.relayClaimOK(f):
		return route{}, &stForbidden
	case c.relay.methods != nil && !c.relay.methods[string(m)] && !isMethod(m, "SEND") && !isMethod(m, "REPORT") && !isMethod(m, "AUTH"):
		return route{}, &stNotSupported
	}
	if _, err := f.ByteRange(); err != nil {
		return route{}, &stBadRequest
	}
	if st := checkPaths(f); st != nil {
		return route{}, st
	}
	rt, st := c.findRoute(w, f)
	if st == nil && rt.grownFromPath(f) > c.relay.cfg.Limits.MaxLine {
		// The next hop, with limits like ours, would take the frame for
		// a protocol violation and drop the connection, and every
		// session on it with the frame.
		return route{}, &stBadRequest
	}
	return rt, st
}

// relayClaimOK checks a request that claims to come through a relay (two
// or more From-Path URIs) on a TLS connection: the peer must have shown a
// verified certificate naming the host of From-Path[0] (RFC 4976 §6.3,
// §9.2). Plain TCP listeners are for labs and tests and carry no proof.
func (c *Conn) relayClaimOK(f *codec.Frame) bool {
	if c.lis == nil || !c.lis.Secure || codec.PathLen(f.FromPath()) < 2 {
		return true
	}
	first, _ := codec.NextURI(f.FromPath())
	u, err := codec.ParseURI(first)
	if err != nil {
		return false
	}
	host := strings.Trim(string(u.Host), "[]")
	for _, n := range c.peer.RelayNames {
		if strings.EqualFold(n, host) {
			return true
		}
	}
	return false
}

// forward sends the request on along rt: at once when the whole frame is
// here, else collected (small or non-SEND frames, which must not be cut) or
// streamed (SEND chunks that may be large).
func (c *Conn) forward(w *Worker, f *codec.Frame, rest []byte, rt *route) int {
	m := f.Method()
	send := isMethod(m, "SEND")
	fr, _ := f.FailureReport()
	t := c.newTemplate(f, rt, send, fr)
	rt.acct.countRequest(c.lastActive.Load())
	var prefix tid
	newTIDPrefix(&prefix)
	rw := codec.Rewrite{TID: prefix.bytes(), ToPath: rt.toPath, FromPrefix: rt.fromPrefix}
	if send && fr == codec.ReportYes {
		c.ackLater(f, rt)
	}
	limit := int64(0)
	if !send {
		limit = int64(c.relay.cfg.Limits.MaxNonSendBody)
	}
	if !f.HasBody() {
		w.scratch = codec.AppendRewrite(w.scratch[:0], f, &rw)
		w.scratch = codec.AppendEndLine(w.scratch, prefix.bytes(), f.Flag())
		t.setBodyLen(0)
		c.sendAck(w, rt.target) // before the frame: see finishInbound
		c.sendFrame(w, rt.target, t, prefix, w.scratch)
		return 0
	}
	c.in.scan.Reset(f.TID(), limit)
	c.in.scan.Watch(prefix.bytes())
	if r, err := c.in.scan.Scan(rest); err == nil && r.End > 0 && !r.Collision && int64(r.Body) <= rt.target.atomicMax() {
		// The body goes from the read buffer straight into the target's
		// queue: only the header and the end-line are built here.
		w.scratch = codec.AppendRewrite(w.scratch[:0], f, &rw)
		head := len(w.scratch)
		w.scratch = codec.AppendBodyEnd(w.scratch, prefix.bytes(), r.Flag)
		rt.acct.countBody(r.Body)
		t.setBodyLen(r.Body)
		c.sendAck(w, rt.target) // before the frame: see finishInbound
		c.sendFrame(w, rt.target, t, prefix, w.scratch[:head], rest[:r.Body], w.scratch[head:])
		return r.End
	}
	rng, _ := f.ByteRange()
	small := rng.End != codec.Unknown && rng.End-rng.Start+1 <= minChunk
	if send && small {
		// Collected whole because it claims to be small: a body that
		// turns out larger than a chunk sent at once (to a WebSocket
		// client, one message) is refused, not buffered (the claim is
		// the sender's, not a bound).
		limit = rt.target.atomicMax()
	}
	c.in.scan.Reset(f.TID(), limit)
	c.in.scan.Watch(prefix.bytes())
	c.in.cur.acct = rt.acct
	if !send || small {
		c.in.cur.mode = modeCollect
		c.in.cur.buf = waitPool.Get()
		c.in.cur.buf.B = codec.AppendRewrite(c.in.cur.buf.B, f, &rw)
		c.in.cur.head = len(c.in.cur.buf.B)
		c.in.cur.target = rt.target
		c.in.cur.tid = prefix
		if t != nil {
			t.key = prefix
		}
		c.in.cur.txn = t
		return 0
	}
	st := newStream(f, &rw, prefix, rng, t)
	st.sender = c
	freeTxn(t)
	if !rt.target.out.startStream(st) {
		st.release()
		gone := rt.target.goneStatus()
		if whole := st.wholeTxn(); whole != nil {
			c.relay.failTxn(w, whole, gone.code, gone.reason)
		}
		c.in.cur.mode = modeSkip
		return 0
	}
	c.in.scan.Watch(st.prefix.bytes())
	c.in.cur.mode = modeStream
	c.in.cur.target = rt.target
	c.in.cur.st = st
	return 0
}

// sendFrame queues a complete forwarded frame and its transaction.
func (c *Conn) sendFrame(w *Worker, target *Conn, t *txn, key tid, parts ...[]byte) {
	if t != nil {
		t.key = key
	}
	c.deliver(w, target, t, parts...)
}

// newTemplate records what a response or a failure will need to find its
// way back. It returns nil when nothing will: a SEND with Failure-Report no,
// or a REPORT.
func (c *Conn) newTemplate(f *codec.Frame, rt *route, send bool, fr codec.Report) *txn {
	m := f.Method()
	if isMethod(m, "REPORT") || (send && fr == codec.ReportNo) {
		return nil
	}
	t := newTxn()
	t.origin = c
	t.origTID.set(f.TID())
	t.fr = fr
	t.kind = txnEndToEnd
	switch {
	case send:
		t.kind = txnSend
		t.rng, _ = f.ByteRange()
	case isMethod(m, "AUTH"):
		t.kind = txnAuth
	}
	t.setData(f.FromPath(), rt.ourURI, f.MessageID())
	return t
}

// ackLater prepares the hop-by-hop 200 for a SEND with Failure-Report yes
// (RFC 4976 §6.4.1), sent once the chunk's end-line has arrived.
func (c *Conn) ackLater(f *codec.Frame, rt *route) {
	b := waitPool.Get()
	first, _ := codec.NextURI(f.FromPath())
	b.B = codec.AppendResponseLine(b.B, f.TID(), 200, "OK")
	b.B = codec.AppendHeader(b.B, "To-Path", first)
	b.B = codec.AppendHeader(b.B, "From-Path", rt.ourURI)
	b.B = codec.AppendEndLine(b.B, f.TID(), '$')
	c.in.cur.ack = b
}

// sendAck sends the hop-by-hop 200 for the frame just received, or holds
// it at its target while that is congested if this connection is shared
// with other sessions (window.go).
func (c *Conn) sendAck(w *Worker, target *Conn) {
	if b := c.in.cur.ack; b != nil {
		if target == nil || target == c || !c.shared() || !target.out.holdAck(&c.out, b.B) {
			c.answer(w, b.B)
		}
		waitPool.Put(b)
		c.in.cur.ack = nil
	}
}

// skipBody discards the body of a frame this relay will not forward.
func (c *Conn) skipBody(f *codec.Frame) {
	if !f.HasBody() {
		return
	}
	limit := int64(0)
	if !isMethod(f.Method(), "SEND") {
		limit = int64(c.relay.cfg.Limits.MaxNonSendBody)
	}
	c.in.scan.Reset(f.TID(), limit)
	c.in.cur.mode = modeSkip
}

// reject answers a request this relay will not forward, as RFC 4975 allows:
// never a REPORT, and a SEND only if its Failure-Report wants failures.
func (c *Conn) reject(w *Worker, f *codec.Frame, st *refusal) {
	c.relay.cfg.Metrics.Add(ProtocolErrors, 1)
	defer c.noteFailure() // after the answer is queued: it may close
	c.Note(zerolog.InfoLevel, "request refused").Bytes("method", f.Method()).Int("status", st.code).Send()
	m := f.Method()
	if isMethod(m, "REPORT") {
		return
	}
	if isMethod(m, "SEND") {
		if fr, _ := f.FailureReport(); fr == codec.ReportNo {
			return
		}
	}
	c.respond(w, f, st.code, st.reason, nil)
}

// rejectMalformed answers a delimited but malformed request with its
// status (400 or 413) when it can tell where the answer goes.
func (c *Conn) rejectMalformed(w *Worker, f *codec.Frame, err error) {
	c.relay.cfg.Metrics.Add(ProtocolErrors, 1)
	defer c.noteFailure() // after the answer is queued: it may close
	c.Note(zerolog.InfoLevel, "malformed frame").Err(err).Send()
	if !f.IsResponse() && !isMethod(f.Method(), "REPORT") && codec.ValidPath(f.FromPath()) && codec.PathLen(f.ToPath()) > 0 {
		if e, ok := err.(*codec.Error); ok && e.Status != 0 {
			c.respond(w, f, e.Status, "Bad Request", nil)
		}
	}
	c.skipBody(f)
}

// noteFailure closes a connection that keeps failing before it ever made a
// successful request (RFC 4976 §6.1).
func (c *Conn) noteFailure() {
	c.refusals++
	if !c.succeeded.Load() && c.refusals >= c.relay.cfg.MaxAuthFailures+2 {
		c.decideClose(ConnsClosedRefusals)
		c.closeAfterFlush()
	}
}

// respond sends a response to request f on this connection. extra holds
// further header lines, already formatted.
func (c *Conn) respond(w *Worker, f *codec.Frame, code int, reason string, extra []byte) {
	w.scratch = appendResponse(w.scratch[:0], f, code, reason, extra)
	c.answer(w, w.scratch)
}

// answer queues a frame of the relay's own for this connection's peer
// (a response, a challenge, a hop-by-hop 200). A peer that sends but does
// not read its answers stops being read, as a sender to a slow receiver
// does: its answers cannot pile up.
func (c *Conn) answer(w *Worker, b []byte) {
	c.out.writeFrame(w, nil, b)
	c.checkBackpressure(w, c)
}

// appendResponse writes a response to f: SEND answers go to the previous
// hop only, others back along the whole From-Path (RFC 4975 §7.2).
func appendResponse(dst []byte, f *codec.Frame, code int, reason string, extra []byte) []byte {
	to := f.FromPath()
	if isMethod(f.Method(), "SEND") {
		to, _ = codec.NextURI(to)
	}
	us, _ := codec.NextURI(f.ToPath())
	dst = codec.AppendResponseLine(dst, f.TID(), code, reason)
	dst = codec.AppendHeader(dst, "To-Path", to)
	dst = codec.AppendHeader(dst, "From-Path", us)
	dst = append(dst, extra...)
	return codec.AppendEndLine(dst, f.TID(), '$')
}

// handleResponse routes a response to a request this relay forwarded.
func (c *Conn) handleResponse(w *Worker, f *codec.Frame) {
	var k tid
	k.set(f.TID())
	c.out.mu.Lock()
	t := c.out.txns.take(&k)
	c.out.mu.Unlock()
	if t == nil {
		c.logAt(zerolog.DebugLevel).Bytes("tid", f.TID()).Msg("response to no transaction dropped")
		return
	}
	c.succeeded.Store(true)
	if t.kind == txnSend {
		// Hop by hop: a 200 ends it; anything else becomes a REPORT.
		if f.Code() != 200 && t.fr != codec.ReportNo {
			c.out.releaseAcks(w)
			c.relay.sendReport(w, t, f.Code(), string(f.Comment()))
			c.checkBackpressure(w, t.origin)
		}
		freeTxn(t)
		return
	}
	c.routeEndToEnd(w, f, t)
}

// routeEndToEnd takes a response to another method back to its origin.
// One that cannot be routed (its To-Path does not start with this relay)
// still ends the transaction: the origin gets the status, not silence.
func (c *Conn) routeEndToEnd(w *Worker, f *codec.Frame, t *txn) {
	// End to end: pop this relay's URIs off To-Path, push them onto
	// From-Path, restore the origin's tid (RFC 4976 §6.4.3).
	to := f.ToPath()
	w.extra = w.extra[:0]
	for {
		first, rest := codec.NextURI(to)
		u, err := codec.ParseURI(first)
		if first == nil || err != nil || !c.relay.isOurs(&u) {
			break
		}
		if len(w.extra) > 0 {
			w.extra = append(append(append([]byte{}, first...), ' '), w.extra...)
		} else {
			w.extra = append(w.extra, first...)
		}
		to = rest
	}
	if len(w.extra) == 0 || len(to) == 0 {
		c.relay.failTxn(w, t, f.Code(), string(f.Comment()))
		return
	}
	rw := codec.Rewrite{TID: t.origTID.bytes(), ToPath: to, FromPrefix: w.extra}
	w.scratch = codec.AppendRewrite(w.scratch[:0], f, &rw)
	w.scratch = codec.AppendEndLine(w.scratch, rw.TID, '$')
	t.origin.out.writeFrame(w, nil, w.scratch)
	c.checkBackpressure(w, t.origin)
	freeTxn(t)
}

// tick runs this connection's timers.
func (c *Conn) tick(w *Worker, now int64) {
	cfg := &c.relay.cfg
	if !c.succeeded.Load() && c.lis != nil && now-c.opened > int64(cfg.ProbationTimeout) {
		c.Note(zerolog.InfoLevel, "closing: no successful request in the probation period").Send()
		c.closeFor(ConnsClosedProbation)
		return
	}
	if c.idle(now) {
		c.logAt(zerolog.InfoLevel).Msg("closing: idle without a session")
		c.closeFor(ConnsClosedIdle)
		return
	}
	if c.hopKey != "" && c.idleFor(now, cfg.HopIdleTimeout) && c.out.txns.len() == 0 && c.out.backlog() == 0 {
		c.logAt(zerolog.DebugLevel).Str("next_hop", c.hopKey).Msg("closing: idle next hop")
		c.closeFor(ConnsClosedIdle)
		return
	}
	c.keepAlive(now)
	c.sendDelayed(w, now)
	c.out.cutStalled(w)
	c.out.releaseAgedAcks(w, now)
	c.out.mu.Lock()
	w.due = c.out.txns.due(now-int64(cfg.TransactionTimeout), w.due[:0])
	if c.idleFor(now, time.Second) {
		c.out.txns.shrink()
	}
	c.out.mu.Unlock()
	if len(w.due) > 0 {
		c.out.releaseAcks(w)
	}
	for _, t := range w.due {
		c.relay.cfg.Metrics.Add(TransactionTimeouts, 1)
		c.relay.failTxn(w, t, 408, "Request Timeout")
	}
	if c.out.drained() {
		c.wake(w)
	}
}

// idleFor reports whether nothing arrived on the connection for d.
func (c *Conn) idleFor(now int64, d time.Duration) bool {
	return now-c.lastActive.Load() >= int64(d)
}

func (c *Conn) idle(now int64) bool {
	if now-c.lastActive.Load() < int64(c.relay.cfg.IdleTimeout) {
		return false
	}
	c.sessMu.Lock()
	defer c.sessMu.Unlock()
	return len(c.owned) == 0 && len(c.bound) == 0
}

// closeAfterFlush closes the connection once what is queued for it is out.
func (c *Conn) closeAfterFlush() {
	c.closing.Store(true)
	c.out.mu.Lock()
	wake := c.out.askFlush()
	// A Flush writing right now closes when it is done (it looks at
	// closing after release); closing under it would cut its bytes off.
	empty := !c.out.taken && (c.out.pending == nil || len(c.out.pending.B) == 0)
	c.out.mu.Unlock()
	if wake {
		c.wake(nil)
	} else if empty {
		c.close()
	}
}
