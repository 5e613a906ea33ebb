package userdb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/msrprelay/msrprelay/digest"
	"github.com/msrprelay/msrprelay/engine"
	"github.com/msrprelay/msrprelay/engine/sqldb"
)

// Options name the table and columns and bound the work. Zero values are
// the defaults (the OpenSIPS/Kamailio schema).
type Options struct {
	Table        string // default subscriber
	UserColumn   string // default username
	DomainColumn string // default domain; "-" matches on the user name only
	// HA1Column holds hex md5(user:realm:password); "-" when the table
	// has none. PasswordColumn holds the plain password, used when the
	// HA1 is empty; "-" when the table has none. Default ha1 and password.
	HA1Column      string
	PasswordColumn string
	// CacheTTL is how long an answer (user found or not) is reused; 0
	// asks the database for every AUTH.
	CacheTTL time.Duration
	// CacheMax bounds the cached answers. Default 100,000.
	CacheMax int
	// Timeout is the most an AUTH waits for the database, queueing
	// included. Default 2 s.
	Timeout time.Duration
	// Workers run queries (and bound the connections); Queue bounds the
	// lookups waiting for one, beyond which an AUTH fails at once.
	// Defaults 8 and 4096.
	Workers int
	Queue   int
}

// off is the column name that says "the table has no such column".
const off = "-"

func (o *Options) fill() error {
	def := func(s *string, v string) {
		if *s == "" {
			*s = v
		}
	}
	def(&o.Table, "subscriber")
	def(&o.UserColumn, "username")
	def(&o.DomainColumn, "domain")
	def(&o.HA1Column, "ha1")
	def(&o.PasswordColumn, "password")
	if o.HA1Column == off && o.PasswordColumn == off {
		return errors.New("the table needs an HA1 column or a password column")
	}
	for _, c := range []struct{ what, name string }{
		{"table", o.Table}, {"user column", o.UserColumn}, {"domain column", o.DomainColumn},
		{"HA1 column", o.HA1Column}, {"password column", o.PasswordColumn},
	} {
		if c.name == off && c.what != "table" && c.what != "user column" {
			continue
		}
		if err := sqldb.CheckIdent(c.what, c.name); err != nil {
			return err
		}
	}
	if o.CacheTTL < 0 {
		o.CacheTTL = 0
	}
	if o.CacheMax <= 0 {
		o.CacheMax = 100000
	}
	if o.Timeout <= 0 {
		o.Timeout = 2 * time.Second
	}
	if o.Workers <= 0 {
		o.Workers = 8
	}
	if o.Queue <= 0 {
		o.Queue = 4096
	}
	return nil
}

// Store is the engine.UserStore on a SQL table.
type Store struct {
	db    *sqldb.DB
	o     Options
	query string
	queue chan *lookup
	stop  chan struct{}
	wg    sync.WaitGroup

	mu       sync.Mutex
	inflight map[string]*lookup
	cache    cache
}

// New checks the options and starts the workers; it does not touch the
// database (Check does).
func New(db *sqldb.DB, o Options) (*Store, error) {
	if err := o.fill(); err != nil {
		return nil, err
	}
	s := &Store{db: db, o: o, query: selectQuery(db.Dialect, &o), queue: make(chan *lookup, o.Queue),
		stop: make(chan struct{}), inflight: make(map[string]*lookup)}
	s.cache.init(o.CacheTTL, o.CacheMax)
	for i := 0; i < o.Workers; i++ {
		s.wg.Add(1)
		go s.work()
	}
	return s, nil
}

// selectQuery reads the user's row: its name as stored (compared byte for
// byte here, since MySQL's default collation ignores case and trailing
// blanks), then the HA1 and the password where the table has them.
func selectQuery(d sqldb.Dialect, o *Options) string {
	cols := []string{d.Quote(o.UserColumn)}
	for _, c := range []string{o.HA1Column, o.PasswordColumn} {
		if c != off {
			cols = append(cols, d.Quote(c))
		}
	}
	where := d.Quote(o.UserColumn) + " = " + d.Param(1)
	if o.DomainColumn != off {
		where += " AND " + d.Quote(o.DomainColumn) + " = " + d.Param(2)
	}
	return "SELECT " + strings.Join(cols, ", ") + " FROM " + d.Quote(o.Table) + " WHERE " + where
}

// Check runs the lookup query once, so that a database that cannot be
// reached, or has no such table or columns, stops the relay at start.
func (s *Store) Check(timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if _, err := s.fetch(ctx, "msrprelay-start-check", "msrprelay-start-check"); err != nil {
		return fmt.Errorf("%s: table %s: %w", s.db.Name, s.o.Table, err)
	}
	return nil
}

// Close stops the workers; lookups still queued are answered with an
// error.
func (s *Store) Close() {
	close(s.stop)
	s.wg.Wait()
}

// Cached implements engine.UserStore.
func (s *Store) Cached(user, realm []byte) (engine.Secret, bool) {
	if !plausible(user) || !plausible(realm) {
		// Never in the table (see plausible), and not worth a lookup.
		return engine.Secret{}, true
	}
	return s.cache.get(user, realm, time.Now())
}

// plausible says whether a name can be in the table at all: text a
// database takes as a parameter (valid UTF-8, no control characters,
// short). Anything else would be an error from the database, which must
// not read as the database being down.
func plausible(b []byte) bool {
	if len(b) == 0 || len(b) > 255 || !utf8.Valid(b) {
		return false
	}
	for _, c := range b {
		if c < 0x20 || c == 0x7f {
			return false
		}
	}
	return true
}

// lookupError is the answer when the database does not help in time.
type lookupError struct{ msg string }

func (e *lookupError) Error() string { return e.msg }

// Lookup implements engine.UserStore.
func (s *Store) Lookup(user, realm string, done func(engine.Secret)) {
	key := cacheKey(realm, user)
	s.mu.Lock()
	if l := s.inflight[key]; l != nil {
		l.waiters = append(l.waiters, done)
		s.mu.Unlock()
		return
	}
	l := &lookup{key: key, user: user, realm: realm, deadline: time.Now().Add(s.o.Timeout), waiters: []func(engine.Secret){done}}
	s.inflight[key] = l
	// The answer comes by the deadline whatever the database does.
	l.timer = time.AfterFunc(s.o.Timeout, func() {
		s.finish(l, engine.Secret{Err: &lookupError{fmt.Sprintf("no answer within %v", s.o.Timeout)}})
	})
	s.mu.Unlock()
	select {
	case s.queue <- l:
	default:
		go s.finish(l, engine.Secret{Err: &lookupError{fmt.Sprintf("%d lookups already waiting for the database", s.o.Queue)}})
	}
}

// lookup is one query in flight and the AUTHs waiting for it.
type lookup struct {
	key, user, realm string
	deadline         time.Time
	timer            *time.Timer           // s.mu
	waiters          []func(engine.Secret) // s.mu
	finished         bool                  // s.mu
}

func (s *Store) work() {
	defer s.wg.Done()
	for {
		select {
		case <-s.stop:
			s.failQueued()
			return
		case l := <-s.queue:
			s.run(l)
		}
	}
}

func (s *Store) run(l *lookup) {
	if time.Now().After(l.deadline) {
		return // the timer answered
	}
	ctx, cancel := context.WithDeadline(context.Background(), l.deadline)
	defer cancel()
	sec, err := s.fetch(ctx, l.user, l.realm)
	if err != nil {
		s.finish(l, engine.Secret{Err: err})
		return
	}
	// A late answer still fills the cache: the client's retry finds it.
	s.cache.put(l.key, sec, time.Now())
	s.finish(l, sec)
}

func (s *Store) failQueued() {
	for {
		select {
		case l := <-s.queue:
			s.finish(l, engine.Secret{Err: &lookupError{"the relay is stopping"}})
		default:
			return
		}
	}
}

// finish answers every AUTH waiting for l, once.
func (s *Store) finish(l *lookup, sec engine.Secret) {
	s.mu.Lock()
	if l.finished {
		s.mu.Unlock()
		return
	}
	l.finished = true
	if s.inflight[l.key] == l {
		delete(s.inflight, l.key)
	}
	waiters := l.waiters
	l.waiters = nil
	timer := l.timer
	s.mu.Unlock()
	timer.Stop()
	for _, done := range waiters {
		done(sec)
	}
}

// fetch runs the query for user in realm.
func (s *Store) fetch(ctx context.Context, user, realm string) (engine.Secret, error) {
	args := []any{user}
	if s.o.DomainColumn != off {
		args = append(args, realm)
	}
	rows, err := s.db.QueryContext(ctx, s.query, args...)
	if err != nil {
		return engine.Secret{}, err
	}
	defer rows.Close()
	for rows.Next() {
		var name, ha1, password sql.NullString
		dest := []any{&name}
		if s.o.HA1Column != off {
			dest = append(dest, &ha1)
		}
		if s.o.PasswordColumn != off {
			dest = append(dest, &password)
		}
		if err := rows.Scan(dest...); err != nil {
			return engine.Secret{}, err
		}
		if name.String != user {
			continue // a case-insensitive collation's match
		}
		if sec, ok := secretOf(user, realm, ha1.String, password.String); ok {
			return sec, rows.Close()
		}
	}
	return engine.Secret{}, rows.Err()
}

// secretOf is the user's HA1: the stored one when it is 32 hex digits,
// else one made from the plain password (the seed's cleartext_passwords).
// A row with neither cannot authenticate anyone.
func secretOf(user, realm, ha1, password string) (engine.Secret, bool) {
	var sec engine.Secret
	if len(ha1) == 32 && isHex(ha1) {
		copy(sec.HA1[:], strings.ToLower(ha1))
		sec.Known = true
		return sec, true
	}
	if password != "" {
		copy(sec.HA1[:], digest.HA1(user, realm, password))
		sec.Known = true
		return sec, true
	}
	return sec, false
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}
