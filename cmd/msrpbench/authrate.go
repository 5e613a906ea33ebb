package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"text/tabwriter"
	"time"

	"github.com/msrprelay/msrprelay/bench/load"
	"github.com/msrprelay/msrprelay/engine/sqldb/dbtest"
)

// authRateCmd measures AUTHs per second through msrprelay with each user
// backend in turn: it starts the relay (and, for the SQL backends, a
// throwaway PostgreSQL holding the same users) itself.
func authRateCmd(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("msrpbench auth-rate", flag.ContinueOnError)
	bin := fs.String("msrprelay", "bin/msrprelay", "msrprelay binary to start")
	backendList := fs.String("backends", "file,postgres-cache,postgres-nocache",
		"user backends, in order: file (htdigest), postgres-cache (--db-cache-ttl 30s), postgres-nocache (--db-cache-ttl 0)")
	clients := fs.Int("clients", 8, "clients AUTHing in parallel")
	duration := fs.Duration("duration", 10*time.Second, "how long each backend is measured")
	warmup := fs.Duration("warmup", 3*time.Second, "AUTHs before each measurement, not counted (fills a cache)")
	nusers := fs.Int("users", 1000, "distinct users, taken in turn")
	schema := fs.String("schema", "configs/subscriber.postgres.sql", "the subscriber table's schema")
	jsonOut := fs.String("json", "", "write the results as JSON to this file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("auth-rate: unexpected arguments %q", fs.Args())
	}
	backends, err := parseAuthBackends(*backendList)
	if err != nil {
		return err
	}
	if *clients <= 0 || *duration <= 0 || *nusers <= 0 || *warmup < 0 {
		return errors.New("auth-rate: --clients, --duration and --users must be positive, --warmup not negative")
	}
	users := benchUsers(*nusers)
	dir, err := os.MkdirTemp("", "msrpbench-auth-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	var pg *dbtest.Server
	defer func() {
		if pg != nil {
			pg.Close()
		}
	}()
	var results []*load.Result
	for _, b := range backends {
		credentials := filepath.Join(dir, "users.htdigest")
		if b.sql {
			if pg == nil {
				fmt.Fprintf(os.Stderr, "starting PostgreSQL with %d users\n", len(users))
				if pg, err = startUserDB(*schema, users); err != nil {
					return err
				}
			}
			credentials = pg.URL
		} else if err := os.WriteFile(credentials, htdigestFile(users), 0o600); err != nil {
			return err
		}
		res, err := authRateOnce(ctx, b, *bin, filepath.Join(dir, b.name), credentials, users,
			load.Scenario{Name: "auth", Pairs: *clients, Duration: *duration}, *warmup)
		if err != nil {
			return fmt.Errorf("%s: %w", b.name, err)
		}
		fmt.Fprintf(os.Stderr, "%s: %.0f AUTHs/s\n", b.name, res.MsgsPerSec)
		results = append(results, res)
	}
	writeAuthRateTable(os.Stdout, results)
	if err := writeJSON(*jsonOut, results); err != nil {
		return err
	}
	for _, r := range results {
		if r.ErrorCount() > 0 {
			return fmt.Errorf("%s: AUTHs failed: %v (%s)", r.Target, r.Errors, r.FirstError)
		}
	}
	return nil
}

// authRateOnce starts the relay for backend b, warms it up and measures.
func authRateOnce(ctx context.Context, b authBackend, bin, dir, credentials string, users []load.AuthUser,
	sc load.Scenario, warmup time.Duration) (*load.Result, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	relay, addr, err := startBenchRelay(bin, dir, func(addr string) []string { return relayArgs(b, addr, credentials) })
	if err != nil {
		return nil, err
	}
	defer relay.Stop(10 * time.Second)
	t := load.Target{Name: b.name, Addrs: []string{addr}, RealmHost: authRealm}
	if warmup > 0 {
		w, err := load.AuthRate(ctx, t, load.Scenario{Name: "warm-up", Pairs: sc.Pairs, Duration: warmup}, users)
		if err != nil {
			return nil, err
		}
		if w.ErrorCount() > 0 {
			return nil, fmt.Errorf("warm-up: %v (%s)", w.Errors, w.FirstError)
		}
	}
	t.PID = relay.PID()
	return load.AuthRate(ctx, t, sc, users)
}

// writeAuthRateTable writes the results as a Markdown table, the form the
// README shows them in.
func writeAuthRateTable(w io.Writer, results []*load.Result) {
	tw := tabwriter.NewWriter(w, 2, 4, 1, ' ', tabwriter.Debug)
	fmt.Fprintln(tw, "| backend\t AUTHs/s\t p50 ms\t p99 ms\t max ms\t relay CPU µs/AUTH\t errors\t")
	fmt.Fprintln(tw, "|---\t---\t---\t---\t---\t---\t---\t")
	for _, r := range results {
		cpu := "-"
		if r.Relay != nil {
			cpu = fmt.Sprintf("%.0f", r.Relay.CPUPerMsgUs)
		}
		l := r.Latency
		fmt.Fprintf(tw, "| %s\t %.0f\t %.2f\t %.2f\t %.1f\t %s\t %d\t\n", r.Target, r.MsgsPerSec,
			float64(l.P50)/1000, float64(l.P99)/1000, float64(l.Max)/1000, cpu, r.ErrorCount())
	}
	tw.Flush()
}
