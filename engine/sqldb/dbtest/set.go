package dbtest

import (
	"testing"

	"github.com/msrprelay/msrprelay/engine/sqldb"
)

// Set is one PostgreSQL and one MariaDB server for a test package, each
// prepared the same way (a schema, a table). Start it in TestMain.
type Set struct {
	servers map[sqldb.Dialect]*Server
	errs    map[sqldb.Dialect]error
}

// StartSet starts both servers and prepares each. A server that cannot
// start or be prepared is remembered, not fatal: Each then skips its tests
// (or fails them under MSRP_REQUIRE_DB=1, see Need).
func StartSet(prepare func(d sqldb.Dialect, s *Server) error) *Set {
	set := &Set{servers: map[sqldb.Dialect]*Server{}, errs: map[sqldb.Dialect]error{}}
	for _, d := range []sqldb.Dialect{sqldb.Postgres, sqldb.MySQL} {
		start := StartPostgres
		if d == sqldb.MySQL {
			start = StartMariaDB
		}
		s, err := start()
		if err == nil {
			if err = prepare(d, s); err != nil {
				s.Close()
				s = nil
			}
		}
		set.servers[d], set.errs[d] = s, err
	}
	return set
}

// Each runs fn against each server, as subtests named by dialect.
func (set *Set) Each(t *testing.T, fn func(t *testing.T, s *Server)) {
	for _, d := range []sqldb.Dialect{sqldb.Postgres, sqldb.MySQL} {
		t.Run(d.String(), func(t *testing.T) {
			fn(t, Need(t, set.servers[d], set.errs[d]))
		})
	}
}

// Close stops the servers.
func (set *Set) Close() {
	for _, s := range set.servers {
		if s != nil {
			s.Close()
		}
	}
}
