package engine

// The peers' side of the stateful fuzzer (statefuzz_test.go): decoding
// what the relay writes to each connection and checking every frame.

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/msrprelay/msrprelay/codec"
)

// toPeer decodes the bytes the relay put on sc's wire.
func (m *sfModel) toPeer(sc *sfConn, b []byte) {
	d := &sc.dec
	d.buf = append(d.buf, b...)
	for {
		if !d.inBody {
			if len(d.buf) == 0 {
				break
			}
			n, err := d.f.Parse(d.buf, &sfLimits, nil)
			if err == codec.ErrNeedMore {
				break
			}
			if err != nil {
				m.fail("c%d: the relay wrote a frame that does not decode (%v):\n%q", sc.n, err, d.buf[:min(len(d.buf), 600)])
			}
			d.hdr = append(d.hdr[:0], d.buf[:n]...)
			d.f.Rebase(d.hdr)
			d.buf = d.buf[n:]
			d.pos += int64(n)
			if !d.f.HasBody() {
				m.frameEnds(sc, d.pos)
				m.onFrame(sc, &d.f, nil, d.f.Flag())
				continue
			}
			d.inBody = true
			d.body = d.body[:0]
			d.scan.Reset(d.f.TID(), 0)
		}
		r, _ := d.scan.Scan(d.buf)
		d.body = append(d.body, d.buf[:r.Body]...)
		if r.End == 0 {
			d.buf = d.buf[r.Body:]
			d.pos += int64(r.Body)
			break
		}
		d.buf = d.buf[r.End:]
		d.pos += int64(r.End)
		d.inBody = false
		m.frameEnds(sc, d.pos)
		if sc.ws && !d.f.IsResponse() && isMethod(d.f.Method(), "SEND") && int64(len(d.body)) > m.r.cfg.WSMaxChunk {
			m.fail("c%d: a SEND of %d body bytes to a WebSocket client (WSMaxChunk %d)", sc.n, len(d.body), m.r.cfg.WSMaxChunk)
		}
		m.onFrame(sc, &d.f, d.body, r.Flag)
	}
	if len(d.buf) == 0 {
		d.buf = nil // let a large buffer go
	}
}

// frameEnds checks, on a WebSocket connection, that the relay marked the
// end of the frame that ends at pos in the wire stream as a message end,
// and marked nothing before it: each frame is exactly one message.
func (m *sfModel) frameEnds(sc *sfConn, pos int64) {
	if !sc.ws {
		return
	}
	if len(sc.ends) == 0 || sc.ends[0] != pos {
		m.fail("c%d: a frame ends at %d of the wire, the relay marked message ends at %v", sc.n, pos, sc.ends[:min(len(sc.ends), 4)])
	}
	sc.ends = sc.ends[1:]
}

func (m *sfModel) onFrame(sc *sfConn, f *codec.Frame, body []byte, flag byte) {
	if f.IsResponse() {
		m.onResponse(sc, f)
		return
	}
	method := string(f.Method())
	if method == "REPORT" && codec.PathLen(f.FromPath()) == 1 {
		m.onRelayReport(sc, f)
		return
	}
	msgID := string(f.MessageID())
	r := m.reqs[msgID]
	if r == nil {
		m.fail("c%d: received a %s with a Message-ID nobody sent: %q\n%s", sc.n, method, msgID, f.Bytes())
	}
	if r.method != method {
		m.fail("c%d: %s %s arrived as a %s", sc.n, r.method, msgID, method)
	}
	m.checkRoute(sc, r, f)
	if method == "SEND" {
		m.onPiece(sc, r, f, body, flag)
	} else {
		r.delivers++
		sfCount("delivered " + method)
		if r.delivers > 1 {
			m.fail("c%d: %s %s (%s) delivered twice", sc.n, method, r.tid, msgID)
		}
		if r.hasBody != f.HasBody() || !bytes.Equal(body, r.body) || flag != r.flag {
			m.fail("c%d: %s %s (%s) delivered with body %d bytes (flag %q), sent %d (flag %q)", sc.n, method, r.tid, msgID, len(body), flag, len(r.body), r.flag)
		}
	}
	if method != "REPORT" {
		sc.inbox = append(sc.inbox, &sfIn{tid: string(f.TID()), method: method, to: string(f.ToPath()), from: string(f.FromPath()), msgID: msgID})
	}
}

// isOurs says whether a URI names this relay (any session).
func sfIsOurs(u string) bool {
	pu, err := codec.ParseURI([]byte(u))
	return err == nil && strings.EqualFold(string(pu.Host), sfRealm) && pu.Port == 2855
}

// checkRoute: a request arrives with this relay's URIs taken off the front
// of To-Path and pushed onto From-Path, nothing else changed, and at the
// connection the path names: the owner of a session it went through, the
// endpoint named next, or the next-hop relay named next.
func (m *sfModel) checkRoute(sc *sfConn, r *sfReq, f *codec.Frame) {
	to, from := string(f.ToPath()), string(f.FromPath())
	sent := strings.Fields(r.toPath)
	got := strings.Fields(to)
	stripped := len(sent) - len(got)
	if stripped < 1 || stripped > 2 || strings.Join(sent[stripped:], " ") != strings.Join(got, " ") {
		m.fail("c%d: %s %s To-Path %q arrived as %q", sc.n, r.method, r.msgID, r.toPath, to)
	}
	var ours []string
	for i := 0; i < stripped; i++ {
		if !sfIsOurs(sent[i]) {
			m.fail("c%d: %s %s To-Path %q arrived as %q: %q is not this relay's", sc.n, r.method, r.msgID, r.toPath, to, sent[i])
		}
		ours = append([]string{sent[i]}, ours...)
	}
	if want := strings.Join(ours, " ") + " " + r.fromPath; strings.Join(strings.Fields(from), " ") != want {
		m.fail("c%d: %s %s From-Path %q arrived as %q, want %q", sc.n, r.method, r.msgID, r.fromPath, from, want)
	}
	if len(got) == 0 {
		m.fail("c%d: %s %s (To-Path %q) forwarded with an empty To-Path", sc.n, r.method, r.msgID, r.toPath)
	}
	for _, u := range sent[:stripped] {
		if s := m.sessBy[u]; s != nil && s.owner == sc {
			return
		}
	}
	if got[0] == sc.uri {
		return
	}
	if sc.relay {
		if pu, err := codec.ParseURI([]byte(got[0])); err == nil {
			if hp := strings.ToLower(string(pu.Host)) + ":" + strconv.Itoa(pu.Port); hp == sc.host {
				return
			}
		}
	}
	m.fail("c%d (%s): %s %s with To-Path %q (sent %q by c%d) reached a connection it does not name", sc.n, sc.uri, r.method, r.msgID, to, r.toPath, r.from.n)
}

// onPiece checks a delivered piece of a SEND: in order after the pieces
// before it, the sender's bytes at its offset, all to one connection.
func (m *sfModel) onPiece(sc *sfConn, r *sfReq, f *codec.Frame, body []byte, flag byte) {
	if r.to == nil {
		r.to = sc
	} else if r.to != sc {
		m.fail("SEND %s (%s): pieces to c%d and c%d", r.tid, r.msgID, r.to.n, sc.n)
	}
	if r.lastFlag == '$' || r.lastFlag == '#' {
		m.fail("c%d: SEND %s (%s): a piece after the one that ended it (%q)", sc.n, r.tid, r.msgID, r.lastFlag)
	}
	r.pieces++
	pos := int64(0)
	if rng, err := f.ByteRange(); err == nil && f.HasByteRange() {
		pos = rng.Start - r.start
	}
	if pos != r.delivered {
		m.fail("c%d: SEND %s (%s) piece %d at body offset %d (Byte-Range %q), want %d", sc.n, r.tid, r.msgID, r.pieces, pos, f.Header("Byte-Range"), r.delivered)
	}
	if pos+int64(len(body)) > int64(len(r.body)) {
		m.fail("c%d: SEND %s (%s) piece %d at %d carries %d bytes, past the %d sent", sc.n, r.tid, r.msgID, r.pieces, pos, len(body), len(r.body))
	}
	if want := r.body[pos : pos+int64(len(body))]; !bytes.Equal(body, want) {
		i := 0
		for i < len(body) && body[i] == want[i] {
			i++
		}
		m.fail("c%d: SEND %s (%s) piece %d (%d bytes at %d): byte %d is %q, sent %q", sc.n, r.tid, r.msgID, r.pieces, len(body), pos, pos+int64(i), body[i], want[i])
	}
	r.delivered += int64(len(body))
	r.lastFlag = flag
	sfCount("piece")
	if r.pieces > 1 {
		sfCount("piece after a cut")
	}
	if flag == '#' && r.flag != '#' {
		sfCount("piece aborted by relay")
	}
	switch flag {
	case '$':
		if r.flag != '$' || r.delivered != int64(len(r.body)) {
			m.fail("c%d: SEND %s (%s) ended with '$' after %d of %d bytes (sender's flag %q); piece tid %s, sent body from there: %q",
				sc.n, r.tid, r.msgID, r.delivered, len(r.body), r.flag, f.TID(), r.body[r.delivered:min(int64(len(r.body)), r.delivered+40)])
		}
	case '#':
		if r.flag != '#' && !r.from.closed {
			m.fail("c%d: SEND %s (%s) aborted with '#' after %d of %d bytes, sender's flag %q and still connected", sc.n, r.tid, r.msgID, r.delivered, len(r.body), r.flag)
		}
	}
}

// onResponse checks an answer: to a request sc's peer made, once, as its
// Failure-Report allows.
func (m *sfModel) onResponse(sc *sfConn, f *codec.Frame) {
	tid := string(f.TID())
	r := sc.reqs[tid]
	if r == nil {
		m.fail("c%d: response %d to tid %q, which this peer never sent", sc.n, f.Code(), tid)
	}
	code := f.Code()
	r.answers++
	r.codes = append(r.codes, code)
	m.logf("  c%d got %d for %s %s", sc.n, code, r.method, tid)
	sfCount(fmt.Sprintf("answer %s %d", r.method, code))
	if r.method == "SEND" {
		sfCount(fmt.Sprintf("answer SEND %d %s", code, r.kind))
		if os.Getenv("MSRP_SF_WHY") == fmt.Sprintf("%d %s", code, r.kind) {
			m.fail("why: %s %s to %q from %q", f.Comment(), tid, r.toPath, r.fromPath)
		}
	}
	if r.answers > 1 {
		m.fail("c%d: %s %s answered twice: %v", sc.n, r.method, tid, r.codes)
	}
	if r.owed == owedNot {
		m.fail("c%d: %s %s (Failure-Report %v) answered %d; it wants no answer", sc.n, r.method, tid, r.fr, code)
	}
	if r.method == "SEND" && code == 200 {
		if !r.ack200 {
			m.fail("c%d: SEND %s (Failure-Report %v) got a 200", sc.n, tid, r.fr)
		}
		if sc.consumed < r.end {
			m.fail("c%d: SEND %s acknowledged before its end-line was read (%d of %d)", sc.n, tid, sc.consumed, r.end)
		}
	}
	// (A connection past its AUTH failure limit gets 403 for any AUTH.)
	if r.want200 && code != 200 && m.clk.now().Sub(r.nonceAt) < m.nonceTTL && sc.sessions < m.maxSess &&
		!(code == 403 && sc.c.authLimitReached()) {
		m.fail("c%d: a right AUTH %s got %d %s (%d sessions granted)", sc.n, tid, code, f.Comment(), sc.sessions)
	}
	// The answer goes back to whoever sent the request: the previous hop
	// for a SEND, the whole From-Path for the others.
	wantTo := r.fromPath
	if r.method == "SEND" {
		wantTo, _ = sfNext(r.fromPath)
	}
	if r.fromPath != "" && strings.Join(strings.Fields(string(f.ToPath())), " ") != wantTo {
		m.fail("c%d: answer %d to %s %s has To-Path %q, want %q", sc.n, code, r.method, tid, f.ToPath(), wantTo)
	}
	if r.authRelay && code == 200 {
		u := string(codec.LastURI(f.UsePath()))
		if u == "" {
			m.fail("c%d: AUTH %s: 200 without a Use-Path", sc.n, tid)
		}
		if s := m.sessBy[u]; s != nil {
			if s.owner != sc {
				m.fail("c%d: AUTH %s refreshed %s, a session of c%d", sc.n, tid, u, s.owner.n)
			}
		} else {
			if r.toPath != sfRelayURI {
				m.fail("c%d: AUTH %s to %q made a new session", sc.n, tid, r.toPath)
			}
			s := &sfSess{uri: u, owner: sc}
			m.sess = append(m.sess, s)
			m.sessBy[u] = s
			sc.sessions++
			m.logf("  c%d has session %s", sc.n, u)
		}
	}
}

// onRelayReport checks a failure REPORT the relay wrote: for a SEND of
// this peer that wanted one, within the bytes it carried.
func (m *sfModel) onRelayReport(sc *sfConn, f *codec.Frame) {
	msgID := string(f.MessageID())
	r := m.reqs[msgID]
	if r == nil || r.method != "SEND" {
		m.fail("c%d: the relay reported on %q, which is no SEND:\n%s", sc.n, msgID, f.Bytes())
	}
	if r.from != sc {
		m.fail("c%d: a REPORT for SEND %s of c%d", sc.n, msgID, r.from.n)
	}
	if r.fr == codec.ReportNo {
		m.fail("c%d: a REPORT for SEND %s (%s), which asked for none:\n%s", sc.n, r.tid, msgID, f.Bytes())
	}
	st, err := f.Status()
	if err != nil || st.Code == 200 {
		m.fail("c%d: REPORT for %s with Status %q", sc.n, msgID, f.StatusHeader())
	}
	if strings.Join(strings.Fields(string(f.ToPath())), " ") != r.fromPath {
		m.fail("c%d: REPORT for %s to %q, the SEND came from %q", sc.n, msgID, f.ToPath(), r.fromPath)
	}
	if r.rangeLie {
		// The sender's Byte-Range does not match its body (or does not
		// parse): the report's range is derived from it, no check.
		m.logf("  c%d got REPORT %s for %s (range lie), Byte-Range %q", sc.n, f.StatusHeader(), msgID, f.Header("Byte-Range"))
		return
	}
	rng, err := f.ByteRange()
	if !r.hasBody && sfTolerate("bodyless-report-range") {
		// Whatever the header said: the body is empty.
		m.logf("  c%d got REPORT %s for bodyless %s, Byte-Range %q", sc.n, f.StatusHeader(), msgID, f.Header("Byte-Range"))
		r.reported = append(r.reported, [2]int64{0, 0})
		return
	}
	if err != nil || !f.HasByteRange() || rng.End == codec.Unknown {
		m.fail("c%d: REPORT for SEND %s (%s) with Byte-Range %q", sc.n, r.tid, msgID, f.Header("Byte-Range"))
	}
	from, to := rng.Start-r.start, rng.End-r.start+1
	if from < 0 || to < from || to > int64(len(r.body)) {
		m.fail("c%d: REPORT for SEND %s (%s, %d bytes from %d) names %d-%d", sc.n, r.tid, msgID, len(r.body), r.start, rng.Start, rng.End)
	}
	r.reported = append(r.reported, [2]int64{from, to})
	sfCount("report " + strconv.Itoa(st.Code))
	m.logf("  c%d got REPORT %s for %s %d-%d", sc.n, f.StatusHeader(), msgID, from, to)
}
