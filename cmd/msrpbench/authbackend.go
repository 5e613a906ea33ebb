package main

import (
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/msrprelay/msrprelay/bench/load"
	"github.com/msrprelay/msrprelay/bench/proc"
	"github.com/msrprelay/msrprelay/digest"
	"github.com/msrprelay/msrprelay/engine/sqldb/dbtest"
)

// authRealm is the realm and the users' domain of an AUTH-rate run.
const authRealm = "bench.local"

// authBackend is where the relay under an AUTH-rate run finds its users.
type authBackend struct {
	name string
	// sql: the users are in PostgreSQL; cacheTTL is the relay's
	// --db-cache-ttl then.
	sql      bool
	cacheTTL time.Duration
}

// authBackends are the backends an AUTH-rate run knows, in report order.
var authBackends = []authBackend{
	{name: "file"},
	{name: "postgres-cache", sql: true, cacheTTL: 30 * time.Second},
	{name: "postgres-nocache", sql: true},
}

// parseAuthBackends reads a comma-separated list of backend names.
func parseAuthBackends(s string) ([]authBackend, error) {
	var out []authBackend
	for _, name := range strings.Split(s, ",") {
		name = strings.TrimSpace(name)
		found := false
		for _, b := range authBackends {
			if b.name == name {
				out, found = append(out, b), true
			}
		}
		if !found {
			return nil, fmt.Errorf("--backends: %q: want file, postgres-cache or postgres-nocache", name)
		}
	}
	return out, nil
}

// benchUsers are n users with distinct passwords.
func benchUsers(n int) []load.AuthUser {
	users := make([]load.AuthUser, n)
	for i := range users {
		users[i] = load.AuthUser{Name: fmt.Sprintf("bench%05d", i), Password: fmt.Sprintf("pw-%05d-bench", i)}
	}
	return users
}

// htdigestFile is the users as an htdigest file.
func htdigestFile(users []load.AuthUser) []byte {
	var b []byte
	for _, u := range users {
		b = digest.AppendEntry(b, u.Name, authRealm, u.Password)
	}
	return b
}

// subscriberRows is one INSERT of the users into an OpenSIPS subscriber
// table, HA1 filled in as OpenSIPS writes it (the names and passwords are
// benchUsers', nothing to quote).
func subscriberRows(users []load.AuthUser) string {
	var b strings.Builder
	b.WriteString("INSERT INTO subscriber (username, domain, password, ha1) VALUES ")
	for i, u := range users {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "('%s', '%s', '%s', '%s')", u.Name, authRealm, u.Password, digest.HA1(u.Name, authRealm, u.Password))
	}
	return b.String()
}

// startUserDB starts a throwaway PostgreSQL with the subscriber table
// (schema from the file given) holding users.
func startUserDB(schema string, users []load.AuthUser) (*dbtest.Server, error) {
	pg, err := dbtest.StartPostgres()
	if err != nil {
		return nil, fmt.Errorf("PostgreSQL: %w", err)
	}
	if err := pg.Schema(schema); err != nil {
		pg.Close()
		return nil, fmt.Errorf("schema %s: %w", schema, err)
	}
	if err := pg.Admin(subscriberRows(users)); err != nil {
		pg.Close()
		return nil, err
	}
	return pg, nil
}

// relayArgs is the relay's command line for backend b: plain TCP on addr,
// users from credentials (a file or the database URL), warn-level logs so
// that a log line per session is not what is measured.
func relayArgs(b authBackend, addr, credentials string) []string {
	args := []string{"--listen", "tcp://" + addr, "--hostname", "127.0.0.1", "--realm", authRealm,
		"--credentials", credentials, "--log-level", "warn"}
	if b.sql {
		args = append(args, "--db-cache-ttl", b.cacheTTL.String())
	}
	return args
}

// startBenchRelay starts bin with args (relayArgs for a free port), its
// output in dir's msrprelay.log, and waits until it takes connections.
func startBenchRelay(bin, dir string, args func(addr string) []string) (*proc.Child, string, error) {
	addr, err := proc.FreeAddr()
	if err != nil {
		return nil, "", err
	}
	r, err := proc.Start(proc.Options{Name: "msrprelay", Path: bin, Args: args(addr),
		Log: filepath.Join(dir, "msrprelay.log"), Probe: proc.Dials(addr), ReadyWithin: 15 * time.Second})
	if err != nil {
		return nil, "", err
	}
	return r, addr, nil
}
