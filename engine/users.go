package engine

import (
	"sync"

	"github.com/rs/zerolog"

	"github.com/msrprelay/msrprelay/codec"
	"github.com/msrprelay/msrprelay/digest"
)

// UserStore is a user database too slow to ask on an event loop (SQL, in
// engine/userdb). An AUTH whose user is not at hand waits for the store
// with its connection paused (it reads nothing more meanwhile); the loop
// goes on serving every other connection.
type UserStore interface {
	// Cached returns the secret of user in realm when the store has it at
	// hand. It must not block (it runs on the event loops) nor keep the
	// slices, which are the loop's.
	Cached(user, realm []byte) (Secret, bool)
	// Lookup finds user in realm and calls done exactly once with the
	// answer, on any goroutine, within the store's timeout (a store that
	// cannot answer in time calls done with Err set).
	Lookup(user, realm string, done func(Secret))
}

// Secret is what a UserStore knows of a user.
type Secret struct {
	HA1   [32]byte // lower-case hex md5(user:realm:password)
	Known bool     // false: no such user in the realm
	// Err says the store could not answer (down, slow). The AUTH gets a
	// 500 and the client is not counted as failing.
	Err error
}

// lookupThenAuthenticate starts the store lookup for an AUTH whose user
// is not cached and pauses the connection until the answer arrives; the
// AUTH is then handled again with the answer, off the loop.
func (c *Conn) lookupThenAuthenticate(f *codec.Frame, user, realm []byte) {
	held := &codec.Frame{}
	*held = *f
	held.Rebase(append([]byte(nil), f.Bytes()...))
	c.authWait.Store(true)
	c.relay.cfg.Metrics.Add(AuthStoreLookups, 1)
	c.relay.cfg.Users.Lookup(string(user), string(realm), func(s Secret) { c.authenticateLater(held, s) })
}

var lookupWorkers = sync.Pool{New: func() any { return new(Worker) }}

// authenticateLater answers an AUTH that waited for the store, on the
// goroutine that brought the answer. The connection reads nothing while
// it waits, so this is the only code touching its AUTH state meanwhile.
func (c *Conn) authenticateLater(f *codec.Frame, s Secret) {
	defer c.resumeAfterLookup()
	defer func() {
		if v := recover(); v != nil {
			c.relay.Panicked(c, v)
			c.close()
		}
	}()
	if c.closed.Load() {
		return
	}
	w := lookupWorkers.Get().(*Worker)
	defer lookupWorkers.Put(w)
	c.authenticate(w, f, &s)
}

func (c *Conn) resumeAfterLookup() {
	c.authWait.Store(false)
	if l := c.link.Load(); l != nil && !c.closed.Load() {
		(*l).Resume()
	}
}

// verifyWithStore checks an Authorization against the UserStore: from the
// answer given when the AUTH waited for one, else from the store's cache.
// wait reports that a lookup started and the AUTH is answered later.
func (c *Conn) verifyWithStore(f *codec.Frame, d *codec.Digest, realm []byte, given *Secret) (res digest.Result, storeErr error, wait bool) {
	r := c.relay
	uri := f.ToPath()
	if given == nil {
		var buf [256]byte
		user, ok := digest.UserName(d, uri, buf[:0])
		if !ok {
			return digest.Result{Verdict: digest.VerdictMalformed}, nil, false
		}
		s, hit := r.cfg.Users.Cached(user, realm)
		if !hit {
			c.lookupThenAuthenticate(f, user, realm)
			return res, nil, true
		}
		given = &s
	}
	if given.Err != nil {
		return res, given.Err, false
	}
	return r.nonces.VerifyHA1(given.HA1, given.Known, d, realm, uri, c.id, r.cfg.Now()), nil, false
}

// storeUnavailable answers an AUTH the user store could not decide.
func (c *Conn) storeUnavailable(w *Worker, f *codec.Frame, err error) {
	c.relay.cfg.Metrics.Add(AuthStoreErrors, 1)
	c.Note(zerolog.ErrorLevel, "AUTH not checked: user database unavailable").Err(err).Send()
	c.respond(w, f, 500, "User Database Unavailable", nil)
}
