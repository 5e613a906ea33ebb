package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/msrprelay/msrprelay/engine"
	"github.com/msrprelay/msrprelay/engine/accounting"
	"github.com/msrprelay/msrprelay/engine/sqldb"
	"github.com/msrprelay/msrprelay/engine/userdb"
)

// dbOptions say where AUTH finds users when --credentials is a database.
type dbOptions struct {
	table, userColumn, domainColumn, ha1Column, passwordColumn string
	cacheTTL, timeout                                          time.Duration
}

// accOptions say where session records go.
type accOptions struct {
	url   string
	table string
	queue int
}

func addDatabaseFlags(fs *flag.FlagSet, o *options) {
	fs.StringVar(&o.db.table, "db-table", "subscriber", "with a database --credentials: the users' table (OpenSIPS/Kamailio layout by default)")
	fs.StringVar(&o.db.userColumn, "db-user-column", "username", "column of the user name")
	fs.StringVar(&o.db.domainColumn, "db-domain-column", "domain", "column matched against the AUTH's realm; - to match the user name only")
	fs.StringVar(&o.db.ha1Column, "db-ha1-column", "ha1", "column of hex md5(user:realm:password); - when the table has none")
	fs.StringVar(&o.db.passwordColumn, "db-password-column", "password", "column of the plain password, used when the HA1 is empty; - when the table has none")
	fs.DurationVar(&o.db.cacheTTL, "db-cache-ttl", 30*time.Second, "how long a user found (or not found) is remembered; 0 asks the database for every AUTH")
	fs.DurationVar(&o.db.timeout, "db-timeout", 2*time.Second, "longest an AUTH waits for the database; then it gets 500")
	fs.StringVar(&o.acc.url, "accounting", "", "database for a row per ended session: postgres://... or mysql://... (default: the log only)")
	fs.StringVar(&o.acc.table, "acc-table", "msrp_acc", "accounting table (msrprelay db init URL creates it)")
	fs.IntVar(&o.acc.queue, "acc-queue", 10000, "session records held while the accounting database is slow or down; beyond, they are dropped and counted")
}

func (o *options) checkDatabases() error {
	switch {
	case o.db.timeout <= 0:
		return fmt.Errorf("--db-timeout (%v) must be positive", o.db.timeout)
	case o.db.cacheTTL < 0:
		return fmt.Errorf("--db-cache-ttl (%v) must be 0 (off) or positive", o.db.cacheTTL)
	case o.acc.queue <= 0:
		return fmt.Errorf("--acc-queue (%d) must be positive", o.acc.queue)
	case o.acc.url != "" && !sqldb.IsURL(o.acc.url):
		return errors.New("--accounting: want postgres://USER:PASS@HOST:PORT/DB or mysql://USER:PASS@HOST:PORT/DB")
	}
	return nil
}

// startCheck bounds the connection attempt at start: a database that does
// not answer by then stops the relay with the reason.
const startCheck = 10 * time.Second

// openDatabases installs the user database and the accounting writer in
// cfg, proving at start that each answers and has its table. The returned
// function closes them (the accounting writer after writing what is
// queued).
func openDatabases(o *options, cfg *engine.Config, log zerolog.Logger) (func(), error) {
	var closers []func()
	closeAll := func() {
		for i := len(closers) - 1; i >= 0; i-- {
			closers[i]()
		}
	}
	if sqldb.IsURL(o.credentials) {
		db, err := sqldb.Open(o.credentials, 8)
		if err != nil {
			return closeAll, fmt.Errorf("--credentials %w", err)
		}
		closers = append(closers, func() { db.Close() })
		st, err := userdb.New(db, userdb.Options{
			Table: o.db.table, UserColumn: o.db.userColumn, DomainColumn: o.db.domainColumn,
			HA1Column: o.db.ha1Column, PasswordColumn: o.db.passwordColumn,
			CacheTTL: o.db.cacheTTL, Timeout: o.db.timeout, Workers: 8,
		})
		if err != nil {
			return closeAll, fmt.Errorf("--credentials: %w", err)
		}
		closers = append(closers, st.Close)
		if err := st.Check(startCheck); err != nil {
			return closeAll, fmt.Errorf("--credentials %w", err)
		}
		cfg.Users = st
		log.Info().Str("database", db.Name).Str("table", o.db.table).Dur("cache_ttl", o.db.cacheTTL).Msg("users from the database")
	}
	if o.acc.url != "" {
		db, err := sqldb.Open(o.acc.url, 2)
		if err != nil {
			return closeAll, fmt.Errorf("--accounting %w", err)
		}
		closers = append(closers, func() { db.Close() })
		w, err := accounting.New(db, accounting.Options{Table: o.acc.table, Queue: o.acc.queue, Metrics: cfg.Metrics, Logger: log})
		if err != nil {
			return closeAll, fmt.Errorf("--acc-table: %w", err)
		}
		closers = append(closers, func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			w.Close(ctx)
		})
		if err := w.Check(startCheck); err != nil {
			return closeAll, fmt.Errorf("--accounting %w", err)
		}
		cfg.Accounting = w
		log.Info().Str("database", db.Name).Str("table", o.acc.table).Int("queue", o.acc.queue).Msg("session records to the database")
	}
	return closeAll, nil
}

// runDB is `msrprelay db init URL [--acc-table T]`.
func runDB(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("msrprelay db", flag.ContinueOnError)
	table := fs.String("acc-table", "msrp_acc", "accounting table to create")
	usage := errors.New("usage: msrprelay db init URL [--acc-table TABLE]   (URL: postgres://USER:PASS@HOST:PORT/DB or mysql://...)")
	if len(args) < 2 || args[0] != "init" {
		return usage
	}
	url := args[1]
	if err := fs.Parse(args[2:]); err != nil || fs.NArg() > 0 || !sqldb.IsURL(url) {
		return usage
	}
	db, err := sqldb.Open(url, 1)
	if err != nil {
		return err
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), startCheck)
	defer cancel()
	if err := accounting.Init(ctx, db, *table); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s: table %s ready\n", db.Name, *table)
	return nil
}

// credentialsSource names where users come from, for the start log.
func credentialsSource(o *options) string {
	if sqldb.IsURL(o.credentials) {
		u, _, _ := strings.Cut(o.credentials, "@")
		if i := strings.Index(u, "://"); i >= 0 {
			return u[:i] + " database"
		}
	}
	return o.credentials
}
