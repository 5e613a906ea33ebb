package main

import (
	"errors"
	"fmt"
	"net"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/msrprelay/msrprelay/digest"
	"github.com/msrprelay/msrprelay/endpoint"
	"github.com/msrprelay/msrprelay/engine/sqldb"
	"github.com/msrprelay/msrprelay/engine/sqldb/dbtest"
)

// TestDatabaseStartFailuresSay: a database that cannot be used stops the
// relay at start with one line naming the flag and the database, never
// its password.
func TestDatabaseStartFailuresSay(t *testing.T) {
	bin := buildDaemon(t)
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"postgres unreachable", []string{"--credentials", "postgres://msrp:sekrit@127.0.0.1:1/users"}, "--credentials postgres://msrp:xxxxx@127.0.0.1:1/users"},
		{"mysql unreachable", []string{"--credentials", "mysql://msrp:sekrit@127.0.0.1:1/users"}, "--credentials mysql://msrp:xxxxx@127.0.0.1:1/users"},
		{"accounting unreachable", []string{"--accounting", "postgres://msrp:sekrit@127.0.0.1:1/acc"}, "--accounting postgres://msrp:xxxxx@127.0.0.1:1/acc"},
		{"table not an identifier", []string{"--credentials", "postgres://msrp:sekrit@127.0.0.1:1/users", "--db-table", "subscriber;drop"}, "plain identifier"},
		{"accounting not a database", []string{"--accounting", "/var/log/acc.csv"}, "--accounting: want postgres://"},
		{"no database name", []string{"--credentials", "mysql://msrp:sekrit@127.0.0.1:1"}, "want mysql://USER:PASS@HOST:PORT/DB"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stderr := failedStart(t, bin, append([]string{"--listen", "tcp://127.0.0.1:0", "--hostname", "127.0.0.1"}, tc.args...))
			if !strings.Contains(stderr, tc.want) || strings.Contains(stderr, "sekrit") {
				t.Fatalf("stderr does not say %q (or shows the password):\n%s", tc.want, stderr)
			}
		})
	}
}

// TestDaemonWithDatabases: the daemon authenticates users of a
// PostgreSQL subscriber table and writes accounting rows to MariaDB, whose
// table `msrprelay db init` made.
func TestDaemonWithDatabases(t *testing.T) {
	bin := buildDaemon(t)
	began := time.Now()
	pg, err := dbtest.StartPostgres()
	dbtest.Need(t, pg, err)
	defer pg.Close()
	my, err := dbtest.StartMariaDB()
	dbtest.Need(t, my, err)
	defer my.Close()
	if err := pg.Schema("../../configs/subscriber.postgres.sql"); err != nil {
		t.Fatal(err)
	}
	if err := pg.Admin("INSERT INTO subscriber (username, domain, ha1) VALUES ('dave', 'example.com', '" + digest.HA1("dave", "example.com", "pw") + "')"); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, "db", "init", my.URL).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "table msrp_acc ready") || strings.Contains(string(out), "msrp-test-pw") {
		t.Fatalf("db init: %v\n%s", err, out)
	}

	l, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := l.Addr().String()
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	cmd := exec.Command(bin, "--listen", "tcp://"+addr, "--hostname", "127.0.0.1", "--realm", "example.com", "--shutdown-grace", "1s",
		"--credentials", pg.URL, "--accounting", my.URL, "--db-cache-ttl", "0")
	logs := &syncBuffer{}
	cmd.Stderr = logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	waitListening(t, addr, logs)
	t.Logf("databases and relay up after %v", time.Since(began))

	auth := func(password string) (*endpoint.Conn, error) {
		c, err := endpoint.Dial(addr, nil, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(10 * time.Second))
		_, err = c.Auth(endpoint.AuthOptions{RelayURI: fmt.Sprintf("msrp://example.com:%d;tcp", port), FromURI: "msrp://d.example.com:9/d;tcp", User: "dave", Password: password})
		return c, err
	}
	if c, err := auth("wrong"); !errors.Is(err, endpoint.ErrAuth) {
		t.Fatalf("wrong password: %v", err)
	} else {
		c.Close()
	}
	c, err := auth("pw")
	if err != nil {
		t.Fatalf("AUTH against the database: %v\n%s", err, logs.String())
	}
	c.Close()

	db, err := sqldb.Open(my.URL, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	deadline := time.Now().Add(15 * time.Second)
	for {
		var user, reason string
		err := db.QueryRow("SELECT username, end_reason FROM msrp_acc").Scan(&user, &reason)
		if err == nil {
			if user != "dave" || reason != "connection closed" {
				t.Fatalf("row: %s %s", user, reason)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no accounting row: %v\n%s", err, logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("row written after %v", time.Since(began))
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("exit: %v\n%s", err, logs.String())
	}
	if strings.Contains(logs.String(), "msrp-test-pw") {
		t.Fatal("the log shows a database password")
	}
}
