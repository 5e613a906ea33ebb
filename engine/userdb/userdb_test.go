package userdb

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/msrprelay/msrprelay/digest"
	"github.com/msrprelay/msrprelay/engine"
	"github.com/msrprelay/msrprelay/engine/sqldb"
	"github.com/msrprelay/msrprelay/engine/sqldb/dbtest"
)

// One PostgreSQL and one MariaDB server for the whole package, each with
// the OpenSIPS subscriber table made from the schema in configs/.
var dbs *dbtest.Set

func TestMain(m *testing.M) {
	dbs = dbtest.StartSet(func(d sqldb.Dialect, s *dbtest.Server) error {
		return s.Schema(fmt.Sprintf("../../configs/subscriber.%s.sql", d))
	})
	code := m.Run()
	dbs.Close()
	os.Exit(code)
}

// eachServer runs fn against PostgreSQL and MariaDB.
func eachServer(t *testing.T, fn func(t *testing.T, s *dbtest.Server)) { dbs.Each(t, fn) }

const realm = "example.com"

// addUser inserts a subscriber row; the name is made unique per test.
func addUser(t testing.TB, s *dbtest.Server, user, domain, ha1, password string) {
	t.Helper()
	if err := s.Admin(fmt.Sprintf("INSERT INTO subscriber (username, domain, ha1, password) VALUES ('%s', '%s', '%s', '%s')", user, domain, ha1, password)); err != nil {
		t.Fatal(err)
	}
}

func newStore(t testing.TB, s *dbtest.Server, o Options) *Store {
	t.Helper()
	st, err := New(s.Open(t), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	return st
}

// get asks the store as an AUTH does: the cache, then a lookup.
func get(st *Store, user string) engine.Secret {
	if sec, ok := st.Cached([]byte(user), []byte(realm)); ok {
		return sec
	}
	ch := make(chan engine.Secret, 1)
	st.Lookup(user, realm, func(s engine.Secret) { ch <- s })
	return <-ch
}

// getSoon is get until the store answers without an error (10 s at
// most): a database that just came back, or a first connection on a
// loaded machine.
func getSoon(st *Store, user string) engine.Secret {
	deadline := time.Now().Add(10 * time.Second)
	sec := get(st, user)
	for sec.Err != nil && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
		sec = get(st, user)
	}
	return sec
}

func expectHA1(t testing.TB, sec engine.Secret, user, password string) {
	t.Helper()
	if sec.Err != nil || !sec.Known || string(sec.HA1[:]) != digest.HA1(user, realm, password) {
		t.Fatalf("%s: got known=%v err=%v HA1 %s, want the HA1 of its password", user, sec.Known, sec.Err, sec.HA1[:])
	}
}

func expectUnknown(t testing.TB, sec engine.Secret, user string) {
	t.Helper()
	if sec.Err != nil || sec.Known {
		t.Fatalf("%q: got known=%v err=%v, want unknown", user, sec.Known, sec.Err)
	}
}

func TestLookupColumns(t *testing.T) {
	eachServer(t, func(t *testing.T, s *dbtest.Server) {
		addUser(t, s, "lc_ha1", realm, strings.ToUpper(digest.HA1("lc_ha1", realm, "pw1")), "")
		addUser(t, s, "lc_plain", realm, "", "pw2")
		addUser(t, s, "lc_both", realm, digest.HA1("lc_both", realm, "pw3"), "not-this-one")
		addUser(t, s, "lc_elsewhere", "other.example.org", "", "pw4")
		addUser(t, s, "lc_nothing", realm, "", "")
		st := newStore(t, s, Options{CacheTTL: time.Minute})
		expectHA1(t, get(st, "lc_ha1"), "lc_ha1", "pw1")
		expectHA1(t, get(st, "lc_plain"), "lc_plain", "pw2")
		expectHA1(t, get(st, "lc_both"), "lc_both", "pw3")
		for _, u := range []string{"lc_elsewhere", "lc_nothing", "nobody-here", "LC_PLAIN", "lc_plain "} {
			expectUnknown(t, get(st, u), u)
		}

		// A table without an HA1 column, and one without passwords.
		plainOnly := newStore(t, s, Options{HA1Column: "-"})
		expectHA1(t, get(plainOnly, "lc_plain"), "lc_plain", "pw2")
		expectHA1(t, get(plainOnly, "lc_both"), "lc_both", "not-this-one")
		expectUnknown(t, get(plainOnly, "lc_ha1"), "lc_ha1")
		ha1Only := newStore(t, s, Options{PasswordColumn: "-"})
		expectHA1(t, get(ha1Only, "lc_ha1"), "lc_ha1", "pw1")
		expectUnknown(t, get(ha1Only, "lc_plain"), "lc_plain")
		// No domain column: the user name alone.
		anyDomain := newStore(t, s, Options{DomainColumn: "-"})
		expectHA1(t, get(anyDomain, "lc_elsewhere"), "lc_elsewhere", "pw4")
	})
}

func TestSQLInjectionInUserName(t *testing.T) {
	eachServer(t, func(t *testing.T, s *dbtest.Server) {
		addUser(t, s, "inj_alice", realm, "", "pw")
		st := newStore(t, s, Options{})
		for _, u := range []string{
			`x' OR '1'='1`, `' OR 1=1 --`, `inj_alice'--`, `inj_alice' #`, `inj_alice\`,
			`"; DROP TABLE subscriber; --`, `'; DROP TABLE subscriber; --`, `inj_%`, `%`, `inj_alic_`,
			"inj_alice\x00", "inj_alice\n", "\xff\xfe", strings.Repeat("a", 300),
		} {
			expectUnknown(t, get(st, u), u)
		}
		expectHA1(t, get(st, "inj_alice"), "inj_alice", "pw")
	})
}

// TestPasswordChange: a changed password works once the cached answer
// expires, without a restart; so does a user added after a miss was
// cached.
func TestPasswordChange(t *testing.T) {
	eachServer(t, func(t *testing.T, s *dbtest.Server) {
		const ttl = 300 * time.Millisecond
		addUser(t, s, "pc_user", realm, "", "old")
		st := newStore(t, s, Options{CacheTTL: ttl})
		expectHA1(t, get(st, "pc_user"), "pc_user", "old")
		expectUnknown(t, get(st, "pc_later"), "pc_later")
		changed := time.Now()
		if err := s.Admin("UPDATE subscriber SET password = 'new' WHERE username = 'pc_user'"); err != nil {
			t.Fatal(err)
		}
		addUser(t, s, "pc_later", realm, "", "pw")
		if time.Since(changed) < ttl/2 {
			expectHA1(t, get(st, "pc_user"), "pc_user", "old") // cached
		}
		time.Sleep(ttl)
		expectHA1(t, get(st, "pc_user"), "pc_user", "new")
		expectHA1(t, get(st, "pc_later"), "pc_later", "pw")

		// Without a cache every lookup asks.
		uncached := newStore(t, s, Options{})
		if _, ok := uncached.Cached([]byte("pc_user"), []byte(realm)); ok {
			t.Fatal("TTL 0 cached an answer")
		}
		expectHA1(t, get(uncached, "pc_user"), "pc_user", "new")
	})
}

// TestSlowDatabase: an answer later than the timeout is an error at the
// timeout; the store answers again once the database is quick.
func TestSlowDatabase(t *testing.T) {
	eachServer(t, func(t *testing.T, s *dbtest.Server) {
		addUser(t, s, "slow_user", realm, "", "pw")
		p, err := s.Proxy()
		if err != nil {
			t.Fatal(err)
		}
		defer p.Close()
		db, err := sqldb.Open(p.URL, 4)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		const timeout = 500 * time.Millisecond
		st, err := New(db, Options{Timeout: timeout})
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		expectHA1(t, getSoon(st, "slow_user"), "slow_user", "pw")
		p.SetDelay(3 * timeout)
		began := time.Now()
		sec := get(st, "slow_user")
		if took := time.Since(began); sec.Err == nil || took < timeout || took > timeout+time.Second {
			t.Fatalf("slow database: err %v after %v (timeout %v)", sec.Err, took, timeout)
		}
		p.SetDelay(0)
		expectHA1(t, getSoon(st, "slow_user"), "slow_user", "pw")
	})
}

// TestDatabaseStops: with the server stopped every lookup fails by the
// timeout (cached answers still serve); started again, lookups work
// without anything being restarted.
func TestDatabaseStops(t *testing.T) {
	eachServer(t, func(t *testing.T, s *dbtest.Server) {
		addUser(t, s, "stop_cached", realm, "", "pw")
		addUser(t, s, "stop_other", realm, "", "pw")
		const timeout = time.Second
		st := newStore(t, s, Options{Timeout: timeout, CacheTTL: time.Minute})
		expectHA1(t, get(st, "stop_cached"), "stop_cached", "pw")
		s.Stop()
		restarted := false
		defer func() {
			if !restarted {
				s.Start()
			}
		}()
		for i := 0; i < 3; i++ {
			began := time.Now()
			sec := get(st, "stop_other")
			if took := time.Since(began); sec.Err == nil || took > timeout+500*time.Millisecond {
				t.Fatalf("database stopped: err %v after %v", sec.Err, took)
			}
		}
		expectHA1(t, get(st, "stop_cached"), "stop_cached", "pw")
		if err := s.Start(); err != nil {
			t.Fatal(err)
		}
		restarted = true
		expectHA1(t, getSoon(st, "stop_other"), "stop_other", "pw")
	})
}

func TestCheckAtStart(t *testing.T) {
	eachServer(t, func(t *testing.T, s *dbtest.Server) {
		if err := newStore(t, s, Options{}).Check(5 * time.Second); err != nil {
			t.Fatalf("the OpenSIPS schema: %v", err)
		}
		err := newStore(t, s, Options{Table: "no_such_table"}).Check(5 * time.Second)
		if err == nil || !strings.Contains(err.Error(), "no_such_table") || strings.Contains(err.Error(), "msrp-test-pw") {
			t.Fatalf("missing table: %v", err)
		}
		if err := newStore(t, s, Options{HA1Column: "no_such_column"}).Check(5 * time.Second); err == nil {
			t.Fatal("a missing column passed the check")
		}
	})
}

func TestIdentifiersChecked(t *testing.T) {
	db := &sqldb.DB{Dialect: sqldb.Postgres}
	for _, o := range []Options{
		{Table: "subscriber; DROP TABLE x"}, {Table: `sub"scriber`}, {UserColumn: "user name"},
		{HA1Column: "1ha1"}, {DomainColumn: "dom`ain"}, {HA1Column: "-", PasswordColumn: "-"},
	} {
		if _, err := New(db, o); err == nil {
			t.Fatalf("%+v accepted", o)
		}
	}
	o := Options{}
	if err := o.fill(); err != nil {
		t.Fatal(err)
	}
	if q := selectQuery(sqldb.MySQL, &o); q != "SELECT `username`, `ha1`, `password` FROM `subscriber` WHERE `username` = ? AND `domain` = ?" {
		t.Fatal(q)
	}
	if q := selectQuery(sqldb.Postgres, &o); q != `SELECT "username", "ha1", "password" FROM "subscriber" WHERE "username" = $1 AND "domain" = $2` {
		t.Fatal(q)
	}
}
