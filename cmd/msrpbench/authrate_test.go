package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/msrprelay/msrprelay/bench/load"
	"github.com/msrprelay/msrprelay/digest"
	"github.com/msrprelay/msrprelay/engine/sqldb/dbtest"
)

func TestParseAuthBackends(t *testing.T) {
	got, err := parseAuthBackends("postgres-nocache, file")
	if err != nil || len(got) != 2 || got[0].name != "postgres-nocache" || !got[0].sql || got[0].cacheTTL != 0 || got[1].sql {
		t.Fatalf("%+v %v", got, err)
	}
	for _, bad := range []string{"", "mysql", "file,,postgres-cache"} {
		if _, err := parseAuthBackends(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// The file and the table hold the same users with the same HA1.
func TestBenchUsersInFileAndTable(t *testing.T) {
	users := benchUsers(3)
	creds, err := digest.ParseCredentials(bytes.NewReader(htdigestFile(users)))
	if err != nil || creds.Len() != 3 {
		t.Fatalf("%v, %d users", err, creds.Len())
	}
	rows := subscriberRows(users)
	for _, u := range users {
		ha1, ok := creds.Lookup([]byte(u.Name), []byte(authRealm))
		want := digest.HA1(u.Name, authRealm, u.Password)
		if !ok || string(ha1[:]) != want {
			t.Errorf("%s: file HA1 %s, want %s", u.Name, ha1, want)
		}
		if !strings.Contains(rows, "('"+u.Name+"', '"+authRealm+"', '"+u.Password+"', '"+want+"')") {
			t.Errorf("%s missing from %s", u.Name, rows)
		}
	}
}

func TestRelayArgsSetTheCache(t *testing.T) {
	for _, b := range authBackends {
		args := strings.Join(relayArgs(b, "127.0.0.1:9", "X"), " ")
		hasTTL := strings.Contains(args, "--db-cache-ttl")
		if b.sql != hasTTL || !strings.Contains(args, "--credentials X") {
			t.Errorf("%s: %s", b.name, args)
		}
	}
	if args := relayArgs(authBackends[2], "a", "X"); !slices.Contains(args, "0s") {
		t.Errorf("nocache: %v", args)
	}
}

func TestAuthRateTable(t *testing.T) {
	var b bytes.Buffer
	writeAuthRateTable(&b, []*load.Result{{Target: "file", MsgsPerSec: 1234.4, Latency: load.Latency{P50: 1500, P99: 2500, Max: 10000},
		Relay: &load.Usage{CPUPerMsgUs: 98.6}}})
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[1], "|---") {
		t.Fatalf("%q", b.String())
	}
	f := strings.Fields(strings.ReplaceAll(lines[2], "|", " "))
	if want := []string{"file", "1234", "1.50", "2.50", "10.0", "99", "0"}; !slices.Equal(f, want) {
		t.Fatalf("row %q, want %q", f, want)
	}
}

func TestAuthRateRejectsBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"--backends", "ldap"},
		{"--clients", "0"},
		{"--users", "0"},
		{"extra"},
		{"--msrprelay", "/nonexistent", "--backends", "file", "--duration", "10ms"},
	} {
		if err := authRateCmd(context.Background(), args); err == nil {
			t.Errorf("%v accepted", args)
		}
	}
}

// TestAuthRateEndToEnd builds msrprelay and measures each backend briefly:
// every AUTH through the real binary, users from the file and from
// PostgreSQL (skipped when PostgreSQL is not installed).
func TestAuthRateEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds msrprelay")
	}
	bin := filepath.Join(t.TempDir(), "msrprelay")
	if out, err := exec.Command("go", "build", "-o", bin, "../msrprelay").CombinedOutput(); err != nil {
		t.Fatalf("build msrprelay: %v: %s", err, out)
	}
	sc := load.Scenario{Name: "auth", Pairs: 2, Duration: 300 * time.Millisecond}
	users := benchUsers(50)
	check := func(b authBackend, credentials string) {
		t.Helper()
		res, err := authRateOnce(context.Background(), b, bin, t.TempDir(), credentials, users, sc, 100*time.Millisecond)
		if err != nil {
			t.Fatalf("%s: %v", b.name, err)
		}
		if res.ErrorCount() != 0 || res.Delivered == 0 || res.Relay == nil {
			t.Fatalf("%s: %d AUTHs, errors %v (%s), relay usage %v", b.name, res.Delivered, res.Errors, res.FirstError, res.Relay)
		}
	}
	file := filepath.Join(t.TempDir(), "users.htdigest")
	if err := os.WriteFile(file, htdigestFile(users), 0o600); err != nil {
		t.Fatal(err)
	}
	check(authBackends[0], file)
	pg, err := startUserDB("../../configs/subscriber.postgres.sql", users)
	pg = dbtest.Need(t, pg, err)
	t.Cleanup(pg.Close)
	check(authBackends[1], pg.URL)
	check(authBackends[2], pg.URL)
}
