package engine

import (
	"bytes"
	"crypto/rand"
	"encoding/base32"
	"sync"
	"sync/atomic"

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
	// msrp[s]://host:port/id;tcp.
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
	user    string
	logID   string // a prefix of the id: enough to correlate logs, not to use
	created int64
	// counters for the end-of-session log line: body bytes from the
	// client and toward it, requests forwarded either way
	bytesFromClient, bytesToClient, frames atomic.Int64
}

// countBody adds n body bytes of a request for s sent by from.
func (s *Session) countBody(from *Conn, n int) {
	if from == s.owner {
		s.bytesFromClient.Add(int64(n))
	} else {
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

// expired collects the sessions whose Expires has passed.
func (r *registry) expired(now int64, out []*Session) []*Session {
	for i := range r.shards {
		sh := &r.shards[i]
		sh.mu.RLock()
		for _, s := range sh.m {
			if s.expires.Load() <= now {
				out = append(out, s)
			}
		}
		sh.mu.RUnlock()
	}
	return out
}
