package dbtest

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/msrprelay/msrprelay/engine/sqldb"
)

// ErrMissing says a server's binaries are not installed.
var ErrMissing = errors.New("database server binaries not installed")

const (
	user     = "msrp"
	password = "msrp-test-pw"
	dbName   = "msrp"
)

// Server is one running (or stopped) database server.
type Server struct {
	Dialect sqldb.Dialect
	// URL is what the relay is given: postgres://... or mysql://...
	URL  string
	Port int
	dir  string
	args []string // the server command line
	cmd  *exec.Cmd
	exit chan struct{}
	// admin opens a connection with every right (table setup).
	adminDSN    string
	adminDriver string
}

// Need fails or skips t when the server could not start: a missing
// server skips, unless MSRP_REQUIRE_DB=1 says it must be there.
func Need(t testing.TB, s *Server, err error) *Server {
	t.Helper()
	switch {
	case err == nil:
		return s
	case errors.Is(err, ErrMissing) && os.Getenv("MSRP_REQUIRE_DB") != "1":
		t.Skipf("%v (MSRP_REQUIRE_DB=1 makes this a failure)", err)
	default:
		t.Fatal(err)
	}
	return nil
}

// StartPostgres initialises and starts a PostgreSQL server.
func StartPostgres() (*Server, error) {
	bin, err := postgresBin()
	if err != nil {
		return nil, err
	}
	s, err := newServer(sqldb.Postgres, "msrp-pg-")
	if err != nil {
		return nil, err
	}
	pwfile := filepath.Join(s.dir, "pw")
	if err := os.WriteFile(pwfile, []byte(password+"\n"), 0o600); err != nil {
		s.Close()
		return nil, err
	}
	if err := s.own(pwfile); err != nil {
		s.Close()
		return nil, err
	}
	data := filepath.Join(s.dir, "data")
	if out, err := s.command(filepath.Join(bin, "initdb"), "-D", data, "-U", user, "--pwfile", pwfile,
		"--auth", "scram-sha-256", "-E", "UTF8", "--no-sync", "--no-instructions").CombinedOutput(); err != nil {
		s.Close()
		return nil, fmt.Errorf("initdb: %v: %s", err, out)
	}
	s.adminDriver = "pgx"
	err = s.startOnFreePort(func(port int) {
		s.args = []string{filepath.Join(bin, "postgres"), "-D", data, "-p", strconv.Itoa(port), "-k", s.dir,
			"-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "synchronous_commit=off",
			"-c", "full_page_writes=off", "-c", "max_connections=200"}
		s.adminDSN = fmt.Sprintf("postgres://%s:%s@127.0.0.1:%d/postgres", user, password, port)
		s.URL = fmt.Sprintf("postgres://%s:%s@127.0.0.1:%d/%s", user, password, port, dbName)
	})
	if err != nil {
		s.Close()
		return nil, err
	}
	if err := s.admin("CREATE DATABASE " + dbName); err != nil {
		s.Close()
		return nil, err
	}
	s.adminDSN = s.URL
	return s, nil
}

// StartMariaDB initialises and starts a MariaDB server.
func StartMariaDB() (*Server, error) {
	install, err1 := exec.LookPath("mariadb-install-db")
	server, err2 := lookPath("mariadbd", "/usr/sbin")
	if err1 != nil || err2 != nil {
		return nil, fmt.Errorf("MariaDB (apt-get install mariadb-server): %w", ErrMissing)
	}
	s, err := newServer(sqldb.MySQL, "msrp-maria-")
	if err != nil {
		return nil, err
	}
	data := filepath.Join(s.dir, "data")
	if out, err := s.command(install, "--no-defaults", "--datadir="+data, "--auth-root-authentication-method=normal",
		"--skip-test-db", "--skip-name-resolve").CombinedOutput(); err != nil {
		s.Close()
		return nil, fmt.Errorf("mariadb-install-db: %v: %s", err, out)
	}
	sock := filepath.Join(s.dir, "sock")
	s.adminDriver = "mysql"
	s.adminDSN = "root@unix(" + sock + ")/"
	err = s.startOnFreePort(func(port int) {
		s.args = []string{server, "--no-defaults", "--datadir=" + data, "--port=" + strconv.Itoa(port),
			"--bind-address=127.0.0.1", "--socket=" + sock, "--pid-file=" + filepath.Join(s.dir, "pid"),
			"--log-error=" + filepath.Join(s.dir, "error.log"), "--skip-name-resolve", "--skip-log-bin",
			"--innodb-flush-log-at-trx-commit=0", "--innodb-buffer-pool-size=32M", "--max-connections=300"}
		s.URL = fmt.Sprintf("mysql://%s:%s@127.0.0.1:%d/%s", user, password, port, dbName)
	})
	if err != nil {
		s.Close()
		return nil, err
	}
	if err := s.admin("CREATE DATABASE "+dbName,
		fmt.Sprintf("CREATE USER '%s'@'%%' IDENTIFIED BY '%s'", user, password),
		fmt.Sprintf("GRANT ALL ON %s.* TO '%s'@'%%'", dbName, user)); err != nil {
		s.Close()
		return nil, err
	}
	s.adminDSN = "root@unix(" + sock + ")/" + dbName
	return s, nil
}

func postgresBin() (string, error) {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	for i := len(dirs) - 1; i >= 0; i-- {
		if _, err := os.Stat(filepath.Join(dirs[i], "initdb")); err == nil {
			return dirs[i], nil
		}
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		return filepath.Dir(p), nil
	}
	return "", fmt.Errorf("PostgreSQL (apt-get install postgresql): %w", ErrMissing)
}

func lookPath(name, extra string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	p := filepath.Join(extra, name)
	if _, err := os.Stat(p); err != nil {
		return "", err
	}
	return p, nil
}

func newServer(d sqldb.Dialect, prefix string) (*Server, error) {
	dir, err := os.MkdirTemp("", prefix)
	if err != nil {
		return nil, err
	}
	s := &Server{Dialect: d, dir: dir}
	if err := s.own(dir); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return s, nil
}

// startOnFreePort starts the server on a port found free, which another
// test package starting a server at the same moment may take first: then
// it tries another. configure sets what depends on the port.
func (s *Server) startOnFreePort(configure func(port int)) error {
	var err error
	for try := 0; try < 3; try++ {
		l, lerr := net.Listen("tcp", "127.0.0.1:0")
		if lerr != nil {
			return lerr
		}
		s.Port = l.Addr().(*net.TCPAddr).Port
		l.Close()
		configure(s.Port)
		if err = s.Start(); err == nil {
			return nil
		}
	}
	return err
}

// Database servers refuse to run as root (CI runs as root): there they
// run as nobody, and own their directory.
const nobody = 65534

func asRoot() bool { return os.Geteuid() == 0 }

func (s *Server) own(path string) error {
	if !asRoot() {
		return nil
	}
	return os.Chown(path, nobody, nobody)
}

func (s *Server) command(name string, args ...string) *exec.Cmd {
	cmd := exec.Command(name, args...)
	cmd.Dir = s.dir
	cmd.Env = append(os.Environ(), "HOME="+s.dir, "LC_ALL=C")
	if asRoot() {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody, NoSetGroups: true}}
	}
	return cmd
}

// Start starts the server (again) and waits until it takes connections.
func (s *Server) Start() error {
	log, err := os.OpenFile(filepath.Join(s.dir, "server.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	cmd := s.command(s.args[0], s.args[1:]...)
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		log.Close()
		return fmt.Errorf("%s: %w", s.args[0], err)
	}
	exit := make(chan struct{})
	go func() {
		cmd.Wait()
		log.Close()
		close(exit)
	}()
	s.cmd, s.exit = cmd, exit
	deadline := time.Now().Add(60 * time.Second)
	for {
		err := s.ping()
		if err == nil {
			return nil
		}
		select {
		case <-exit:
			out, _ := os.ReadFile(filepath.Join(s.dir, "server.log"))
			errLog, _ := os.ReadFile(filepath.Join(s.dir, "error.log"))
			return fmt.Errorf("%s exited at start: %s%s", s.args[0], out, errLog)
		default:
		}
		if time.Now().After(deadline) {
			s.Stop()
			return fmt.Errorf("%s: not ready after 60 s: %v", s.args[0], err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (s *Server) ping() error {
	db, err := sql.Open(s.adminDriver, s.adminDSN)
	if err != nil {
		return err
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	return db.PingContext(ctx)
}

// Stop stops the server (fast shutdown) and waits for it; the data stay.
func (s *Server) Stop() {
	if s.cmd == nil {
		return
	}
	// SIGINT is PostgreSQL's fast shutdown (SIGTERM waits for clients);
	// MariaDB stops on SIGTERM.
	sig := syscall.SIGTERM
	if s.Dialect == sqldb.Postgres {
		sig = syscall.SIGINT
	}
	_ = s.cmd.Process.Signal(sig)
	select {
	case <-s.exit:
	case <-time.After(30 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.exit
	}
	s.cmd = nil
}

// Close stops the server at once, its data being thrown away, and
// removes its files. PostgreSQL's immediate shutdown (SIGQUIT) takes its
// backends with it, which a SIGKILL would leave behind.
func (s *Server) Close() {
	if s.cmd != nil {
		sig := syscall.SIGKILL
		if s.Dialect == sqldb.Postgres {
			sig = syscall.SIGQUIT
		}
		_ = s.cmd.Process.Signal(sig)
		select {
		case <-s.exit:
		case <-time.After(10 * time.Second):
			_ = s.cmd.Process.Kill()
			<-s.exit
		}
		s.cmd = nil
	}
	os.RemoveAll(s.dir)
}

// Admin runs statements with every right (schema, test data).
func (s *Server) Admin(stmts ...string) error { return s.admin(stmts...) }

func (s *Server) admin(stmts ...string) error {
	db, err := sql.Open(s.adminDriver, s.adminDSN)
	if err != nil {
		return err
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, q := range stmts {
		if _, err := db.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("%s: %w", q, err)
		}
	}
	return nil
}

// Open opens the relay's database as the relay would.
func (s *Server) Open(t testing.TB) *sqldb.DB {
	t.Helper()
	db, err := sqldb.Open(s.URL, 4)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}
