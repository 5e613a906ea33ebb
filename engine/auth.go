package engine

import (
	"net/netip"
	"strconv"
	"time"

	"github.com/rs/zerolog"

	"github.com/msrprelay/msrprelay/codec"
	"github.com/msrprelay/msrprelay/digest"
)

// handleAuth answers an AUTH addressed to this relay (RFC 4976 §5.1, §6.3,
// §9.1). Every AUTH gets an answer: 400, 401, 403, 423 or 200, or 500 when
// the user database cannot say (see UserStore).
func (c *Conn) handleAuth(w *Worker, f *codec.Frame) { c.authenticate(w, f, nil) }

// authenticate is handleAuth; given is the UserStore's answer for an AUTH
// that waited for one.
func (c *Conn) authenticate(w *Worker, f *codec.Frame, given *Secret) {
	r := c.relay
	to := f.ToPath()
	u, err := codec.ParseURI(to)
	if err != nil || !codec.ValidPath(f.FromPath()) {
		c.authRefused(w, f, 400, "Bad Request", "malformed AUTH paths")
		return
	}
	var refresh *Session
	if len(u.SessionID) > 0 {
		var st *refusal
		if refresh, st = c.refreshTarget(&u); st != nil {
			c.authRefused(w, f, st.code, st.reason, "refresh of a session this connection does not hold")
			return
		}
	} else if !r.domainAllowed(u.Host) {
		c.authRefused(w, f, 403, "Forbidden", "domain not served")
		return
	}
	realm := u.Host
	if r.cfg.Realm != "" {
		realm = []byte(r.cfg.Realm)
	}
	if refresh != nil {
		realm = []byte(refresh.realm)
	}
	expires, hard, st, bad := r.expiresFor(f)
	if bad {
		c.authRefused(w, f, 400, "Bad Request", "malformed Expires")
		return
	}
	if st != nil {
		c.respond(w, f, 423, "Interval Out-of-Bounds", st)
		c.noteAuthRefusal(w)
		return
	}
	authz := f.Authorization()
	if authz == nil {
		c.challenge(w, f, realm, false)
		return
	}
	var d codec.Digest
	if codec.ParseDigest(authz, &d) != nil {
		c.authRefused(w, f, 400, "Bad Request", "malformed Authorization")
		return
	}
	var res digest.Result
	if r.cfg.Users == nil {
		res = r.nonces.Verify(r.creds.Load(), &d, realm, to, c.id, r.cfg.Now())
	} else {
		var storeErr error
		var wait bool
		if res, storeErr, wait = c.verifyWithStore(f, &d, realm, given); wait {
			return
		} else if storeErr != nil {
			c.storeUnavailable(w, f, storeErr)
			return
		}
	}
	switch res.Verdict {
	case digest.VerdictOK:
	case digest.VerdictStale:
		c.challenge(w, f, realm, true)
		return
	case digest.VerdictMalformed:
		c.authRefused(w, f, 400, "Bad Request", "malformed digest")
		return
	default:
		c.Note(zerolog.InfoLevel, "AUTH failed").Str("verdict", res.Verdict.String()).Bytes("user", d.Username).Send()
		c.countAuthRefusal(AuthFailures)
		c.challengeLater(w, f, realm)
		return
	}
	if !c.freshNC(d.Nonce, res.NC) {
		c.Note(zerolog.InfoLevel, "AUTH replayed a nonce count").Bytes("user", d.Username).Send()
		c.countAuthRefusal(AuthFailReplays)
		c.challengeLater(w, f, realm)
		return
	}
	s := refresh
	if s != nil {
		if string(d.Username) != s.user {
			c.authRefused(w, f, 403, "Forbidden", "refresh by another user")
			return
		}
		s.refresh(r.now(), expires, hard)
	} else {
		c.sessMu.Lock()
		full := len(c.owned) >= r.cfg.MaxSessionsPerConn
		c.sessMu.Unlock()
		if full {
			c.authRefused(w, f, 403, "Forbidden", "too many sessions on one connection")
			return
		}
		s = c.newSession(string(d.Username), string(realm), expires, hard)
		r.cfg.Metrics.Add(SessionsCreated, 1)
	}
	c.authRefusals.Store(0)
	c.succeeded.Store(true)
	r.cfg.Metrics.Add(AuthOK, 1)

	// Use-Path: the relays the AUTH came through, then this one, in the
	// order the client will put them in To-Path (RFC 4976 §5.1).
	ex := w.extra[:0]
	ex = append(ex, "Use-Path: "...)
	for first, rest := codec.NextURI(f.FromPath()); first != nil; first, rest = codec.NextURI(rest) {
		if len(rest) == 0 {
			break
		}
		ex = append(append(ex, first...), ' ')
	}
	ex = append(ex, s.uri...)
	ex = append(ex, "\r\n"...)
	ex = codec.AppendHeaderInt(ex, "Expires", int64(expires/time.Second))
	ex = append(ex, "Authentication-Info: "...)
	ex = codec.AppendDigestParam(ex, true, "qop", []byte("auth"), false)
	ex = codec.AppendDigestParam(ex, false, "rspauth", res.RspAuth[:], true)
	ex = codec.AppendDigestParam(ex, false, "cnonce", d.CNonce, true)
	ex = codec.AppendDigestParam(ex, false, "nc", d.NC, false)
	ex = append(ex, "\r\n"...)
	w.extra = ex
	c.respond(w, f, 200, "OK", ex)
	msg := "session created"
	if refresh != nil {
		msg = "session refreshed"
	}
	c.logAt(zerolog.InfoLevel).Str("session", s.logID).Str("user", s.user).Int64("expires_s", int64(expires/time.Second)).Bool("hard_expiry", hard).Msg(msg)
}

// refreshTarget is the session an AUTH to a session URI refreshes: one of
// this relay's, held by this connection (RFC 4976 §5.1 lets a client
// re-AUTH before its URI expires; relays answer it with the same URI).
func (c *Conn) refreshTarget(u *codec.URI) (*Session, *refusal) {
	s := c.relay.lookup(u)
	if s == nil {
		return nil, &stNoSession
	}
	if s.owner != c {
		return nil, &stForbidden
	}
	return s, nil
}

func (r *Relay) domainAllowed(host []byte) bool {
	if len(r.cfg.Domains) == 0 || r.isOurHost(host) {
		return true
	}
	for _, d := range r.cfg.Domains {
		if codec.EqualFold(host, d) {
			return true
		}
	}
	return false
}

// expiresFor applies the Expires policy: absent means the default, soft
// (see Session.live); asked for, it is hard; out of bounds is a 423 with
// Min-Expires or Max-Expires (RFC 4976 §6.3); a value that is not 1*DIGIT
// is bad (400), while digits too many for a number are only too long.
func (r *Relay) expiresFor(f *codec.Frame) (d time.Duration, hard bool, bound []byte, bad bool) {
	secs, ok, err := f.Expires()
	if !ok {
		return r.cfg.ExpiresDefault, false, nil, false
	}
	maxSecs := int64(r.cfg.ExpiresMax / time.Second)
	switch {
	case err == codec.ErrTooLarge:
		secs = maxSecs + 1
	case err != nil:
		return 0, false, nil, true
	}
	switch {
	case secs < int64(r.cfg.ExpiresMin/time.Second):
		return 0, false, codec.AppendHeaderInt(nil, "Min-Expires", int64(r.cfg.ExpiresMin/time.Second)), false
	case secs > maxSecs:
		return 0, false, codec.AppendHeaderInt(nil, "Max-Expires", maxSecs), false
	}
	return time.Duration(secs) * time.Second, true, nil, false
}

// replayGuard remembers the last nonce a connection authenticated with and
// the highest count used with it. Most connections never AUTH (a sender
// connects straight to its peer's relay), so it lives behind a pointer.
type replayGuard struct {
	nc    uint32
	n     int
	nonce [64]byte
}

// freshNC refuses a nonce count already used with this nonce on this
// connection: nonces are stateless, so the replay check lives here.
func (c *Conn) freshNC(nonce []byte, nc uint32) bool {
	g := c.replay
	if g == nil {
		g = new(replayGuard)
		c.replay = g
	}
	if g.n == len(nonce) && string(g.nonce[:g.n]) == string(nonce) {
		if nc <= g.nc {
			return false
		}
		g.nc = nc
		return true
	}
	g.n = copy(g.nonce[:], nonce)
	g.nc = nc
	return true
}

func (c *Conn) newSession(user, realm string, expires time.Duration, hard bool) *Session {
	r := c.relay
	s := &Session{id: newSessionID(), owner: c, user: user, realm: realm, created: r.now()}
	s.hard.Store(hard)
	s.expires.Store(s.created + int64(expires))
	lis := r.sessionListener(c.lis)
	scheme, port, transport := "msrp", 0, "tcp"
	if lis != nil {
		port, transport = lis.Port, lis.transport()
		if lis.Secure {
			scheme = "msrps"
		}
	}
	u := append([]byte(scheme+"://"), r.cfg.Hostname...)
	u = append(u, ':')
	u = strconv.AppendInt(u, int64(port), 10)
	u = append(u, '/')
	u = s.id.appendText(u)
	idAt := len(u)
	u = append(u, ';')
	u = append(u, transport...)
	s.uri = u
	s.logID = string(u[idAt-sessionIDLen : idAt-sessionIDLen+6])
	r.sessions.add(s)
	c.sessMu.Lock()
	// An AUTH answered off the loop (after a user-store lookup) may meet
	// a close that already took the owned sessions: end this one here.
	gone := c.closed.Load()
	if !gone {
		c.owned = append(c.owned, s)
	}
	c.sessMu.Unlock()
	if gone {
		r.endSession(s, "connection closed")
	}
	return s
}

// challenge answers 401 with a fresh nonce (RFC 4976 §5.1). opaque is
// always sent: python msrplib refuses a challenge without it.
func (c *Conn) challenge(w *Worker, f *codec.Frame, realm []byte, stale bool) {
	w.respond401(c, f, realm, stale)
	c.answer(w, w.scratch)
}

func (w *Worker) respond401(c *Conn, f *codec.Frame, realm []byte, stale bool) {
	r := c.relay
	ex := append(w.extra[:0], "WWW-Authenticate: Digest "...)
	ex = codec.AppendDigestParam(ex, true, "realm", realm, true)
	var tmp [128]byte
	ex = codec.AppendDigestParam(ex, false, "nonce", r.nonces.Append(tmp[:0], c.id, realm, r.cfg.Now()), true)
	ex = codec.AppendDigestParam(ex, false, "qop", []byte("auth"), true)
	ex = codec.AppendDigestParam(ex, false, "opaque", r.nonces.AppendOpaque(tmp[:0], realm), true)
	if stale {
		ex = append(ex, ", stale=TRUE"...)
	}
	ex = append(ex, "\r\n"...)
	w.extra = ex
	w.scratch = appendResponse(w.scratch[:0], f, 401, "Unauthorized", ex)
}

// challengeLater re-challenges after a failure; a source that keeps failing
// waits AuthFailureDelay for its answer, which slows password guessing
// without holding an event loop.
func (c *Conn) challengeLater(w *Worker, f *codec.Frame, realm []byte) {
	w.respond401(c, f, realm, false)
	// The connection closes once the answer to its last allowed failure
	// is out; an AUTH arriving meanwhile is answered at once, since an
	// answer held back longer would be lost with the connection.
	if c.relay.sourceFailing(c.remote.Addr()) && int(c.authRefusals.Load()) <= c.relay.cfg.MaxAuthFailures {
		c.holdAnswer(w.scratch)
		c.closeIfRefusedTooOften()
		return
	}
	c.answer(w, w.scratch)
	c.closeIfRefusedTooOften()
}

// holdAnswer queues an answer for sendDelayed to send once it is due.
func (c *Conn) holdAnswer(b []byte) {
	c.sessMu.Lock()
	c.delayed = append(c.delayed, delayedFrame{due: c.relay.now() + int64(c.relay.cfg.AuthFailureDelay), b: append([]byte(nil), b...)})
	c.sessMu.Unlock()
}

func (c *Conn) authRefused(w *Worker, f *codec.Frame, code int, reason, why string) {
	c.Note(zerolog.InfoLevel, "AUTH refused").Int("status", code).Str("why", why).Send()
	c.respond(w, f, code, reason, nil)
	c.noteAuthRefusal(w)
}

// noteAuthRefusal counts an AUTH refused for its form or a limit, whose
// answer is already queued, and closes the connection (after that answer)
// when there were too many refusals.
func (c *Conn) noteAuthRefusal(w *Worker) {
	c.countAuthRefusal(AuthFailRefused)
	c.closeIfRefusedTooOften()
}

// countAuthRefusal counts a refused AUTH under its verdict's counter.
func (c *Conn) countAuthRefusal(verdict Counter) {
	c.relay.cfg.Metrics.Add(verdict, 1)
	c.relay.noteSourceFailure(c.remote.Addr())
	c.authRefusals.Add(1)
}

// closeIfRefusedTooOften closes the connection after too many refused
// AUTHs (MaxAuthFailures), once their answers are out. Called by whoever
// handles the connection's AUTH (its Receive goroutine, or a user-store
// lookup's while the connection reads nothing), after the refusal's
// answer was queued or held: when answers are held, the last one carries
// the close, so sendDelayed (on the timer goroutine) never decides from a
// count the loop may have raised for an answer it has not held yet.
func (c *Conn) closeIfRefusedTooOften() {
	n := int(c.authRefusals.Load())
	if n < c.relay.cfg.MaxAuthFailures {
		return
	}
	c.sessMu.Lock()
	held := len(c.delayed) > 0
	if held {
		c.delayed[len(c.delayed)-1].closes = true
	}
	c.sessMu.Unlock()
	if !held {
		c.closeForRefusals(n)
	}
}

func (c *Conn) closeForRefusals(n int) {
	c.Note(zerolog.InfoLevel, "closing after repeated AUTH failures").Int("failures", n).Send()
	c.decideClose(ConnsClosedAuthFailures)
	c.closeAfterFlush()
}

type delayedFrame struct {
	due    int64
	b      []byte
	closes bool // the connection closes once this answer is out
}

// sendDelayed sends the held answers that are due, and closes the
// connection after them if one of them answered its last allowed failure.
func (c *Conn) sendDelayed(w *Worker, now int64) {
	c.sessMu.Lock()
	var ready [][]byte
	closes := false
	keep := c.delayed[:0]
	for _, d := range c.delayed {
		if d.due <= now {
			ready = append(ready, d.b)
			closes = closes || d.closes
		} else {
			keep = append(keep, d)
		}
	}
	c.delayed = keep
	c.sessMu.Unlock()
	for _, b := range ready {
		c.out.writeFrame(w, nil, b)
	}
	if closes {
		c.closeForRefusals(int(c.authRefusals.Load()))
	}
}

// sourceFailures counts failed AUTHs per source address over a window.
type sourceFailures struct {
	n     int
	since int64
}

const failureWindow = int64(10 * time.Minute)

func (r *Relay) noteSourceFailure(a netip.Addr) {
	r.failMu.Lock()
	defer r.failMu.Unlock()
	f := r.failing[a]
	if f == nil {
		if len(r.failing) > 100000 {
			return // bounded: under a spray of sources, stop tracking more
		}
		f = &sourceFailures{since: r.now()}
		r.failing[a] = f
	}
	f.n++
}

func (r *Relay) sourceFailing(a netip.Addr) bool {
	r.failMu.Lock()
	defer r.failMu.Unlock()
	f := r.failing[a]
	return f != nil && f.n > 2*r.cfg.MaxAuthFailures
}

func (r *Relay) expireSourceFailures(now int64) {
	r.failMu.Lock()
	defer r.failMu.Unlock()
	for a, f := range r.failing {
		if now-f.since > failureWindow {
			delete(r.failing, a)
		}
	}
}
