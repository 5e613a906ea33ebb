package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/msrprelay/msrprelay/bench/compare"
	"github.com/msrprelay/msrprelay/bench/load"
)

func densityCmd(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("msrpbench density", flag.ContinueOnError)
	tf := addTargetFlags(fs, "relay address, host:port (loopback only)", "relay process whose RSS is read")
	sessions := fs.Int("sessions", 1000, "idle sessions to open (each holds two connections)")
	parallel := fs.Int("parallel", 64, "sessions set up at once")
	settle := fs.Duration("settle", 2*time.Second, "wait after the last session opened before reading the relay's RSS")
	active := fs.Int("active-pairs", 0, "pairs of a load run while the idle sessions stay open (0: none)")
	window := fs.Int("window", 1, "window of the active load")
	duration := fs.Duration("duration", 3*time.Second, "duration of the active load")
	baseline := fs.Bool("baseline", false, "with --active-pairs: run the load again once the idle sessions are closed")
	jsonOut := fs.String("json", "", "write the result as JSON to this file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	t, err := tf.target()
	if err != nil {
		return err
	}
	if *sessions <= 0 {
		return fmt.Errorf("--sessions %d: want at least one", *sessions)
	}
	o := load.DensityOptions{Sessions: *sessions, Parallel: *parallel, Settle: *settle, Baseline: *baseline}
	if *active > 0 {
		o.Active = &load.Scenario{Name: fmt.Sprintf("%d/%d", *active, *window), Pairs: *active, Window: *window, Duration: *duration}
	}
	res, err := load.Density(ctx, t, o)
	if res == nil {
		return err
	}
	compare.WriteDensityTable(os.Stdout, res)
	if err := writeJSON(*jsonOut, res); err != nil {
		return err
	}
	if err != nil {
		return err
	}
	if res.Errors > 0 || res.Opened < res.Sessions {
		return errors.New("some sessions failed to open")
	}
	if res.ActiveError != "" || res.BaselineError != "" ||
		(res.Active != nil && res.Active.ErrorCount() > 0) || (res.Baseline != nil && res.Baseline.ErrorCount() > 0) {
		return errors.New("the active load had errors")
	}
	return nil
}
