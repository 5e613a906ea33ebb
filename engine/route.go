package engine

import (
	"bytes"
	"net"
	"strconv"
	"strings"

	"github.com/msrprelay/msrprelay/codec"
)

// route is where a request goes and how its paths change on the way.
type route struct {
	target *Conn
	sess   *Session // the session To-Path[0] names
	acct   traffic  // whose clients the request comes from and goes to
	// ourURI is To-Path[0] as the sender wrote it: this relay's URI for the
	// session, pushed onto From-Path and used as the From-Path of answers.
	ourURI []byte
	// toPath is what remains of To-Path; fromPrefix what is pushed onto
	// From-Path (two URIs when both hops are this relay).
	toPath     []byte
	fromPrefix []byte
}

var (
	stBadRequest   = refusal{400, "Bad Request"}
	stNoSession    = refusal{481, "Session Does Not Exist"}
	stBoundElse    = refusal{506, "Session Bound Elsewhere"}
	stForbidden    = refusal{403, "Forbidden"}
	stHopClosed    = refusal{408, "Next Hop Closed"}
	stNotSupported = refusal{501, "Not Implemented"}
	// A next hop this relay will not dial now: the request times out at
	// once, as one to a hop that does not answer would.
	stHopUnreachable = refusal{408, "Next Hop Unreachable"}
)

// findRoute applies RFC 4976 §6.2-§6.4: To-Path[0] must be a session this
// relay issued; from the session's client the request goes outward to the
// next URI, from anywhere else it goes inward to the client, and the first
// such connection binds the session (RFC 4975 §5.4).
func (c *Conn) findRoute(w *Worker, f *codec.Frame) (route, *refusal) {
	r := c.relay
	first, rest := codec.NextURI(f.ToPath())
	u, err := codec.ParseURI(first)
	if err != nil || !codec.ValidPath(f.FromPath()) {
		return route{}, &stBadRequest
	}
	s := r.lookup(&u)
	if s == nil {
		return route{}, &stNoSession
	}
	rt := route{sess: s, ourURI: first, toPath: rest, fromPrefix: first, acct: traffic{from: s}}
	if c != s.owner && isMethod(f.Method(), "AUTH") {
		// An AUTH for a relay further on travels only from the client
		// that holds the session it goes through (RFC 4976 §5.1).
		return route{}, &stForbidden
	}
	if c != s.owner {
		// Inward, toward the client that AUTHed. Past this relay the path
		// reaches the client, or its relay: never this relay again.
		if len(rest) == 0 {
			return route{}, &stBadRequest
		}
		if r.loopsBack(rest) {
			return route{}, &stForbidden
		}
		// A direct endpoint binds the session; relays are not bound: one
		// relay connection carries many sessions, and a relay may
		// reconnect.
		if codec.PathLen(f.FromPath()) == 1 && !c.isRelay() && !c.bind(s, f.FromPath()) {
			return route{}, &stBoundElse
		}
		rt.target = s.owner
		rt.acct = traffic{to: s}
		return rt, nil
	}
	// Outward, from the client.
	next, rest2 := codec.NextURI(rest)
	if next == nil {
		return route{}, &stBadRequest
	}
	nu, err := codec.ParseURI(next)
	if err != nil {
		return route{}, &stBadRequest
	}
	if r.isOurs(&nu) {
		// Both users on this relay: the second hop is taken in process,
		// never over a connection to ourselves.
		s2 := r.lookup(&nu)
		if s2 == nil {
			return route{}, &stNoSession
		}
		w.extra = append(append(append(w.extra[:0], next...), ' '), first...)
		rt.fromPrefix = w.extra
		rt.toPath = rest2
		rt.target = s2.owner
		rt.acct.to = s2
		return rt, nil
	}
	// Outward goes where the path says: to the bound endpoint only if it
	// is the next hop, over the session's relay connection only if that
	// reaches the next hop's authority.
	if b := s.bound.Load(); b != nil && b.reaches(next, &nu) {
		rt.target = b.conn
		return rt, nil
	}
	if h := s.hop.Load(); h != nil && !h.closed.Load() {
		w.extra = appendHopKey(w.extra[:0], &nu) // kept: no allocation per frame
		if h.hopKey == string(w.extra) {
			rt.target = h
			return rt, nil
		}
	}
	h, st := r.nextHop(&nu, s)
	if st != nil {
		return route{}, st
	}
	s.hop.Store(h)
	rt.target = h
	return rt, nil
}

// maxPathURIs bounds the URIs of a To-Path: two endpoints with two relays
// each need four, and every URI is a hop a request may be forwarded.
const maxPathURIs = 8

// checkPaths refuses a To-Path that is too long or that goes round: one
// that leaves a relay and comes back to it, or stays on one for more than
// the two hops it takes in process (RFC 4976 §5.1, shared topology).
// Relays that forward such a path to each other amplify one request into
// hundreds; the first relay that sees it refuses it.
func checkPaths(f *codec.Frame) *refusal {
	n := codec.PathLen(f.ToPath())
	if n > maxPathURIs {
		return &stBadRequest
	}
	if n >= 3 && pathRevisits(f.ToPath()) {
		return &stForbidden
	}
	return nil
}

// pathRevisits reports whether path names one relay (scheme, host, port)
// in two separate runs, or more than twice in a row.
func pathRevisits(path []byte) bool {
	var seen [maxPathURIs]codec.URI
	n, run := 0, 0
	for first, rest := codec.NextURI(path); first != nil && n < len(seen); first, rest = codec.NextURI(rest) {
		u, err := codec.ParseURI(first)
		if err != nil {
			return false // routing refuses malformed paths itself
		}
		if n > 0 && u.SameAuthority(&seen[n-1]) {
			run++
			if run > 2 {
				return true
			}
			continue
		}
		for i := range n {
			if u.SameAuthority(&seen[i]) {
				return true
			}
		}
		seen[n] = u
		n++
		run = 1
	}
	return false
}

// grownFromPath is the length of the From-Path line the forwarded frame
// will carry, this relay's URIs pushed on.
func (rt *route) grownFromPath(f *codec.Frame) int {
	return len("From-Path: ") + len(rt.fromPrefix) + 1 + len(f.FromPath()) + len("\r\n")
}

// lookup finds the live session u names, if u is one of ours. Every URI
// this relay hands out says its listener's transport (";tcp", or ";ws" on
// a WebSocket listener), and URIs with different transports never match
// (RFC 4975 §6.1).
func (r *Relay) lookup(u *codec.URI) *Session {
	l := r.listenerOf(u)
	if l == nil || !codec.EqualFold(u.Transport, l.transport()) {
		return nil
	}
	id, ok := parseSessionID(u.SessionID)
	if !ok {
		return nil
	}
	s := r.sessions.get(id)
	if s == nil || !s.live(r.now(), r.cfg.IdleTimeout) {
		return nil
	}
	return s
}

func (c *Conn) isRelay() bool { return len(c.peer.RelayNames) > 0 || c.hopKey != "" }

// loopsBack reports whether a request going inward names this relay again
// after its own URI. Only a client's relay has more than one URI left
// there (RFC 4976 §5.1), so only then is the next one parsed.
func (r *Relay) loopsBack(rest []byte) bool {
	if codec.PathLen(rest) < 2 {
		return false
	}
	next, _ := codec.NextURI(rest)
	nu, err := codec.ParseURI(next)
	return err == nil && r.isOurs(&nu)
}

// bind makes c the peer endpoint of s, which sends from fromPath, unless
// another connection is bound already.
func (c *Conn) bind(s *Session, fromPath []byte) bool {
	b := s.bound.Load()
	if b == nil {
		nb := &binding{conn: c, uri: bytes.Clone(bytes.TrimSpace(fromPath))}
		if s.bound.CompareAndSwap(nil, nb) {
			b = nb
		} else {
			b = s.bound.Load()
		}
	}
	if b == nil || b.conn != c {
		return false
	}
	c.noteBound(s)
	return true
}

func (c *Conn) noteBound(s *Session) {
	c.sessMu.Lock()
	for _, b := range c.bound {
		if b == s {
			c.sessMu.Unlock()
			return
		}
	}
	c.bound = append(c.bound, s)
	c.sessMu.Unlock()
}

// nextHop returns the connection to the relay u names, opening one through
// the Dialer when there is none: one connection per next hop, shared by all
// sessions (RFC 4976 §6.4.2). Dials are bounded: in all (MaxNextHops), per
// session (MaxDialsPerSession a minute), and not repeated toward a hop
// whose last dial failed (DialBackoff): a client naming many unreachable
// hosts must not take the descriptors inbound clients need.
func (r *Relay) nextHop(u *codec.URI, s *Session) (*Conn, *refusal) {
	if r.dialer == nil || u.Port < 0 {
		return nil, &stNoSession
	}
	key := string(appendHopKey(nil, u))
	host := strings.ToLower(string(u.Host))
	now := r.now()
	r.hopsMu.Lock()
	if h := r.hops[key]; h != nil && !h.closed.Load() {
		r.hopsMu.Unlock()
		return h, nil
	}
	if until, ok := r.hopFailed[key]; ok && now < until {
		r.hopsMu.Unlock()
		return nil, &stHopUnreachable
	}
	if len(r.hops) >= r.cfg.MaxNextHops || !s.mayDial(now, r.cfg.MaxDialsPerSession) {
		r.hopsMu.Unlock()
		r.cfg.Metrics.Add(DialsRefused, 1)
		return nil, &stHopUnreachable
	}
	h := r.newConn(nil, nopAddr, nil, PeerInfo{}, key, u.Secure())
	r.hops[key] = h
	r.hopsMu.Unlock()
	serverName := strings.Trim(host, "[]")
	r.dialer.Dial(h, net.JoinHostPort(serverName, strconv.Itoa(u.Port)), u.Secure(), serverName)
	return h, nil
}

// noteDialFailed keeps a next hop whose dial failed from being dialed
// again for DialBackoff.
func (r *Relay) noteDialFailed(key string) {
	r.hopsMu.Lock()
	r.hopFailed[key] = r.now() + int64(r.cfg.DialBackoff)
	r.hopsMu.Unlock()
}

// expireDialFailures forgets failures older than DialBackoff.
func (r *Relay) expireDialFailures(now int64) {
	r.hopsMu.Lock()
	for k, until := range r.hopFailed {
		if now >= until {
			delete(r.hopFailed, k)
		}
	}
	r.hopsMu.Unlock()
}

// appendHopKey writes the key of the next hop u names: scheme, host and
// port, in lower case (RFC 4976 §6.4.2: one connection per next hop).
func appendHopKey(dst []byte, u *codec.URI) []byte {
	for _, part := range [][]byte{u.Scheme, []byte("://"), u.Host, []byte(":")} {
		for _, ch := range part {
			if 'A' <= ch && ch <= 'Z' {
				ch += 'a' - 'A'
			}
			dst = append(dst, ch)
		}
	}
	return strconv.AppendInt(dst, int64(u.Port), 10)
}
