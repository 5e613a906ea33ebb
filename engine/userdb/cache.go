package userdb

import (
	"sync"
	"time"

	"github.com/msrprelay/msrprelay/engine"
)

// cache keeps answers, found and not found, for ttl; at most max of them.
// Errors are never cached: the next AUTH asks again.
type cache struct {
	ttl time.Duration
	max int
	mu  sync.RWMutex
	m   map[string]cached
}

type cached struct {
	sec   engine.Secret
	until time.Time
}

func (c *cache) init(ttl time.Duration, max int) {
	c.ttl, c.max = ttl, max
	c.m = make(map[string]cached)
}

// cacheKey separates realm and user with a byte neither may hold.
func cacheKey(realm, user string) string { return realm + "\x00" + user }

func (c *cache) get(user, realm []byte, now time.Time) (engine.Secret, bool) {
	if c.ttl == 0 {
		return engine.Secret{}, false
	}
	var buf [512]byte
	k := append(append(append(buf[:0], realm...), 0), user...)
	c.mu.RLock()
	e, ok := c.m[string(k)]
	c.mu.RUnlock()
	if !ok || now.After(e.until) {
		return engine.Secret{}, false
	}
	return e.sec, true
}

func (c *cache) put(key string, sec engine.Secret, now time.Time) {
	if c.ttl == 0 || sec.Err != nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= c.max {
		c.evict(now)
	}
	c.m[key] = cached{sec: sec, until: now.Add(c.ttl)}
}

// evict drops expired answers, then, if a spray of user names still
// fills the cache, arbitrary ones down to nine tenths.
func (c *cache) evict(now time.Time) {
	for k, e := range c.m {
		if now.After(e.until) {
			delete(c.m, k)
		}
	}
	for k := range c.m {
		if len(c.m) < c.max*9/10 {
			break
		}
		delete(c.m, k)
	}
}
