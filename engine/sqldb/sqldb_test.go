package sqldb

import (
	"net/url"
	"strings"
	"testing"
)

func TestIsURL(t *testing.T) {
	for s, want := range map[string]bool{
		"postgres://u:p@h:1/d": true, "postgresql://h/d": true, "mysql://u@h/d": true,
		"/etc/msrprelay/users": false, "users.htdigest": false, "sqlite://x": false, "": false,
	} {
		if IsURL(s) != want {
			t.Fatalf("IsURL(%q) = %v", s, !want)
		}
	}
}

// TestOpenRefusesAndRedacts: URLs that cannot name a database are refused
// with an error that never shows the password.
func TestOpenRefusesAndRedacts(t *testing.T) {
	for _, u := range []string{
		"mysql://msrp:sekrit@127.0.0.1:3306",      // no database
		"postgres://msrp:sekrit@/users",           // no host
		"sqlite://msrp:sekrit@127.0.0.1/users",    // no such scheme
		"mysql://msrp:sekrit@127.0.0.1/db?x=%zz",  // bad escape
		"mysql://msrp:sekrit@127.0.0.1/db?tls=no", // a driver parameter with a bad value
	} {
		db, err := Open(u, 1)
		if err == nil {
			db.Close()
			t.Fatalf("%s accepted", u)
		}
		if strings.Contains(err.Error(), "sekrit") {
			t.Fatalf("%s: the error shows the password: %v", u, err)
		}
	}
	db, err := Open("mysql://msrp:sekrit@127.0.0.1:3306/users?tls=false", 1)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if db.Dialect != MySQL || db.Name != "mysql://msrp:xxxxx@127.0.0.1:3306/users?tls=false" {
		t.Fatalf("%v %s", db.Dialect, db.Name)
	}
}

func TestMySQLDSN(t *testing.T) {
	db, err := Open("mysql://us%40er:p%3Ass@db.example.com/acc", 1)
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	u := mustParse(t, "mysql://us%40er:p%3Ass@db.example.com/acc?tls=true")
	dsn, err := mysqlDSN(u)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(dsn, "us@er:p:ss@tcp(db.example.com:3306)/acc?") || !strings.Contains(dsn, "tls=true") {
		t.Fatal(dsn)
	}
}

func TestIdentifiers(t *testing.T) {
	for _, ok := range []string{"subscriber", "msrp_acc", "_x1", "Subscriber"} {
		if err := CheckIdent("table", ok); err != nil {
			t.Fatal(err)
		}
	}
	for _, bad := range []string{"", "1x", "a b", "a;b", `a"b`, "a`b", "a-b", "a.b", strings.Repeat("a", 64), "ä"} {
		if err := CheckIdent("table", bad); err == nil {
			t.Fatalf("%q accepted", bad)
		}
	}
	if Postgres.Quote("domain") != `"domain"` || MySQL.Quote("domain") != "`domain`" || Postgres.Param(2) != "$2" || MySQL.Param(2) != "?" {
		t.Fatal("quoting or parameters")
	}
}

func mustParse(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
