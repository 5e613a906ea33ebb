package sqldb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
	_ "github.com/jackc/pgx/v5/stdlib" // registers "pgx"
)

func init() {
	// The driver prints dropped connections to stderr itself; the
	// relay reports the failures that matter in its own log.
	_ = mysql.SetLogger(log.New(io.Discard, "", 0))
}

// Dialect is the SQL flavour of a database.
type Dialect int

const (
	Postgres Dialect = iota + 1
	MySQL            // MySQL and MariaDB
)

func (d Dialect) String() string {
	switch d {
	case Postgres:
		return "postgres"
	case MySQL:
		return "mysql"
	}
	return "unknown"
}

// DB is an open database and its dialect.
type DB struct {
	*sql.DB
	Dialect Dialect
	// Name is the URL without its password, for logs and errors.
	Name string
}

// IsURL reports whether s names a database rather than a file.
func IsURL(s string) bool {
	for _, p := range []string{"postgres://", "postgresql://", "mysql://"} {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

// Open prepares a connection pool of at most maxConns connections for
// the database at rawURL. It does not connect: Ping does.
func Open(rawURL string, maxConns int) (*DB, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		// url's error quotes the URL, password included.
		return nil, errors.New("not a database URL (postgres://USER:PASS@HOST:PORT/DB or mysql://USER:PASS@HOST:PORT/DB)")
	}
	name := Redact(u)
	if u.Host == "" || strings.Trim(u.Path, "/") == "" {
		return nil, fmt.Errorf("%s: want %s://USER:PASS@HOST:PORT/DB", name, u.Scheme)
	}
	var db *sql.DB
	var d Dialect
	switch u.Scheme {
	case "postgres", "postgresql":
		d = Postgres
		db, err = sql.Open("pgx", rawURL)
	case "mysql":
		d = MySQL
		var dsn string
		if dsn, err = mysqlDSN(u); err == nil {
			db, err = sql.Open("mysql", dsn)
		}
	default:
		return nil, fmt.Errorf("%s: scheme %q: want postgres:// or mysql://", name, u.Scheme)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if maxConns <= 0 {
		maxConns = 4
	}
	db.SetMaxOpenConns(maxConns)
	db.SetMaxIdleConns(maxConns)
	// A database restarted or failed over leaves dead connections in
	// the pool: recycling bounds how long they linger.
	db.SetConnMaxLifetime(10 * time.Minute)
	db.SetConnMaxIdleTime(time.Minute)
	return &DB{DB: db, Dialect: d, Name: name}, nil
}

// mysqlDSN turns mysql://USER:PASS@HOST:PORT/DB?PARAMS into the driver's
// DSN. The URL's query parameters are the driver's (tls=true, ...).
func mysqlDSN(u *url.URL) (string, error) {
	cfg := mysql.NewConfig()
	cfg.User = u.User.Username()
	cfg.Passwd, _ = u.User.Password()
	cfg.Net = "tcp"
	host, port := u.Hostname(), u.Port()
	if port == "" {
		port = "3306"
	}
	cfg.Addr = net.JoinHostPort(host, port)
	cfg.DBName = strings.Trim(u.Path, "/")
	cfg.Timeout = 5 * time.Second
	dsn := cfg.FormatDSN()
	if u.RawQuery != "" {
		sep := "?"
		if strings.Contains(dsn, "?") {
			sep = "&"
		}
		dsn += sep + u.RawQuery
	}
	if _, err := mysql.ParseDSN(dsn); err != nil {
		return "", fmt.Errorf("query parameters: %w", err)
	}
	return dsn, nil
}

// Redact is the URL with its password replaced.
func Redact(u *url.URL) string {
	c := *u
	if _, has := c.User.Password(); has {
		c.User = url.UserPassword(c.User.Username(), "xxxxx")
	}
	return c.String()
}

// Ping connects once within timeout: a clear error at start rather than
// failures at the first AUTH.
func (db *DB) Ping(timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := db.PingContext(ctx); err != nil {
		return fmt.Errorf("%s: %w", db.Name, err)
	}
	return nil
}

var identRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// CheckIdent refuses a table or column name that is not a plain SQL
// identifier: names come from flags and end up in SQL text.
func CheckIdent(what, name string) error {
	if len(name) > 63 || !identRE.MatchString(name) {
		return fmt.Errorf("%s %q: want a plain identifier (letters, digits, _; not starting with a digit; at most 63)", what, name)
	}
	return nil
}

// Quote quotes a checked identifier ("x" or `x`): a name that happens to
// be a reserved word (domain, password) still works.
func (d Dialect) Quote(ident string) string {
	if d == MySQL {
		return "`" + ident + "`"
	}
	return `"` + ident + `"`
}

// Param is the placeholder of the i-th parameter, from 1.
func (d Dialect) Param(i int) string {
	if d == MySQL {
		return "?"
	}
	return "$" + strconv.Itoa(i)
}
