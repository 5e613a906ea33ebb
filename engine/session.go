package engine

import (
	"bytes"
	"crypto/rand"
	"encoding/base32"
	"sync"
	"sync/atomic"
	"time"

	"github.com/msrprelay/msrprelay/codec"
)

// sessionID is 128 bits from crypto/rand (RFC 4976 §6.3 asks for 64, RFC 4975
// §14.1 for 80). On the wire it is 26 characters of lower-case base32.
type sessionID [16]byte

const sessionIDLen = 26

var sidEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

func newSessionID() sessionID {
	var id sessionID
	if _, err := rand.Read(id[:]); err != nil {
		panic("engine: crypto/rand failed: " + err.Error())
	}
	return id
}

func (id *sessionID) appendText(dst []byte) []byte { return sidEncoding.AppendEncode(dst, id[:]) }

// parseSessionID decodes a URI's session id without allocating; anything
// that is not one of ours fails.
func parseSessionID(b []byte) (sessionID, bool) {
	var id sessionID
	if len(b) != sessionIDLen {
		return id, false
	}
	n, err := sidEncoding.Decode(id[:], b)
	return id, err == nil && n == len(id)
}

// Session is one URI this relay handed out in a Use-Path.
type Session struct {
	id sessionID
	// uri is this relay's URI for the session as written in Use-Path:
	// msrp[s]://host:port/id;tcp (;ws on a WebSocket listener).
	uri []byte
	// owner is the connection the AUTH came in on: the way to the client.
	owner *Conn
	// bound is the peer endpoint that reaches the session from the other
	// side over its own connection. Set once by the first request from a
	// connection that is not the owner (RFC 4975 §5.4).
	bound atomic.Pointer[binding]
	// hop is the connection this relay opened toward the session's next
	// relay, reused by every later request (RFC 4976 §6.4.2).
	hop     atomic.Pointer[Conn]
	expires atomic.Int64 // unix nanos
	// hard says the AUTH asked for its Expires: the session ends then,
	// in use or not (RFC 4976 §6.3). Without one, Expires bounds only how
	// long the URI may wait for its first use (see live).
	hard atomic.Bool
	// dials counts next-hop dials this session's requests caused since
	// dialsSince (see Relay.nextHop).
	dials      atomic.Int32
	dialsSince atomic.Int64
	lastUsed   atomic.Int64 // unix nanos of the last request through it
	user       string
	realm      string // the AUTH's realm: a refresh is checked against it
	logID      string // a prefix of the id: enough to correlate logs, not to use
	created    int64
	// counters for the end-of-session record: body bytes and requests
	// from the client and toward it
	bytesFromClient, bytesToClient atomic.Int64
	reqsFromClient, reqsToClient   atomic.Int64
}

// refresh gives s a new lifetime from now (a refresh AUTH).
func (s *Session) refresh(now int64, expires time.Duration, hard bool) {
	s.hard.Store(hard)
	s.expires.Store(now + int64(expires))
}

// mayDial counts one more dial for s and reports whether it is within max
// a minute.
func (s *Session) mayDial(now int64, max int) bool {
	if since := s.dialsSince.Load(); now-since >= int64(time.Minute) && s.dialsSince.CompareAndSwap(since, now) {
		s.dials.Store(0)
	}
	return int(s.dials.Add(1)) <= max
}

// live reports whether s may still be used at now. A session whose AUTH
// gave no Expires is never cut for its age while in use: python msrplib
// (Blink, SylkServer) sends no Expires and never refreshes, and RFC 4976
// §6.3 binds the relay to the expiry only when the AUTH asked for one. It
// ends with its connection, or after idle without a request.
func (s *Session) live(now int64, idle time.Duration) bool {
	if s.hard.Load() || s.reqsFromClient.Load()+s.reqsToClient.Load() == 0 {
		return s.expires.Load() > now
	}
	return now-s.lastUsed.Load() < int64(idle)
}

// traffic is whose client a forwarded request comes from and whose client
// it goes to: the same relay may be both sessions' relay (RFC 4976 §5.1,
// shared topology), or only one of them.
type traffic struct {
	from, to *Session
}

// countRequest counts one request forwarded at now.
func (t traffic) countRequest(now int64) {
	if s := t.from; s != nil {
		s.reqsFromClient.Add(1)
		s.lastUsed.Store(now)
	}
	if s := t.to; s != nil {
		s.reqsToClient.Add(1)
		s.lastUsed.Store(now)
	}
}

// countBody counts n body bytes of a forwarded request.
func (t traffic) countBody(n int) {
	if n == 0 {
		return
	}
	if s := t.from; s != nil {
		s.bytesFromClient.Add(int64(n))
	}
	if s := t.to; s != nil {
		s.bytesToClient.Add(int64(n))
	}
}

// binding is a session's peer endpoint: its connection and the URI it
// sends as From-Path, which the client's requests must name as their next
// hop to go there (RFC 4976 §6.4).
type binding struct {
	conn *Conn
	uri  []byte
}

// reaches reports whether next, the hop after this relay in a request from
// the session's client, is the bound endpoint. The client usually repeats
// the very bytes the endpoint sent; otherwise the URIs are compared by RFC
// 4975 §6.1.
func (b *binding) reaches(next []byte, nu *codec.URI) bool {
	if bytes.Equal(next, b.uri) {
		return true
	}
	bu, err := codec.ParseURI(b.uri)
	return err == nil && bu.Equal(nu)
}

// registry maps session ids to sessions in shards so that lookups on
// different event loops rarely meet on one lock.
type registry struct {
	shards [64]struct {
		mu sync.RWMutex
		m  map[sessionID]*Session
	}
	count atomic.Int64
}

func (r *registry) shard(id sessionID) int { return int(id[0]) % len(r.shards) }

func (r *registry) add(s *Session) {
	sh := &r.shards[r.shard(s.id)]
	sh.mu.Lock()
	if sh.m == nil {
		sh.m = make(map[sessionID]*Session)
	}
	sh.m[s.id] = s
	sh.mu.Unlock()
	r.count.Add(1)
}

func (r *registry) get(id sessionID) *Session {
	sh := &r.shards[r.shard(id)]
	sh.mu.RLock()
	s := sh.m[id]
	sh.mu.RUnlock()
	return s
}

// remove deletes s and reports whether it was still there, so that the
// one who removes it is the one who logs its end.
func (r *registry) remove(s *Session) bool {
	sh := &r.shards[r.shard(s.id)]
	sh.mu.Lock()
	_, ok := sh.m[s.id]
	if ok && sh.m[s.id] == s {
		delete(sh.m, s.id)
	} else {
		ok = false
	}
	sh.mu.Unlock()
	if ok {
		r.count.Add(-1)
	}
	return ok
}

// expired appends to dst the sessions that are no longer live.
func (r *registry) expired(now int64, idle time.Duration, dst []*Session) []*Session {
	for i := range r.shards {
		sh := &r.shards[i]
		sh.mu.RLock()
		for _, s := range sh.m {
			if !s.live(now, idle) {
				dst = append(dst, s)
			}
		}
		sh.mu.RUnlock()
	}
	return dst
}
