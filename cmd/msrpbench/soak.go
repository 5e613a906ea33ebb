package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/msrprelay/msrprelay/bench/soak"
)

// stringList is a repeatable string flag.
type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, " ") }
func (l *stringList) Set(v string) error { *l = append(*l, v); return nil }

// soakCmd runs a bounded soak test: it starts msrprelay itself, runs mixed
// traffic over TCP and TLS for --duration, and exits 1 on FAIL.
func soakCmd(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("msrpbench soak", flag.ContinueOnError)
	bin := fs.String("msrprelay", "bin/msrprelay", "msrprelay binary to start")
	engine := fs.String("engine", "gnet", "relay engine: gnet or goroutine")
	duration := fs.Duration("duration", 30*time.Minute, "how long traffic runs")
	actors := fs.Int("actors", 20, "scenarios running at once")
	sampleEvery := fs.Duration("sample-interval", 10*time.Second, "relay RSS/fds/goroutines sampling interval")
	warmup := fs.Float64("warmup", 0.2, "fraction of --duration before the warm-up sample flatness is judged against")
	seed := fs.Uint64("seed", 0, "random seed for the actors (0: random; printed)")
	keep := fs.Bool("keep", false, "keep the temporary directory with the relay log even on PASS")
	mix := fs.String("mix", "", "scenario weights, e.g. chat=30,file=15,slow=10,sender-drop=15,receiver-drop=15,auth-fail=15 (the default); scenarios not named are left out")
	var relayArgs stringList
	fs.Var(&relayArgs, "relay-arg", "extra msrprelay flag (repeatable), e.g. --relay-arg=--loops=2")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("soak: unexpected arguments %q", fs.Args())
	}
	var m soak.Mix
	if *mix != "" {
		var err error
		if m, err = soak.ParseMix(*mix); err != nil {
			return err
		}
	}
	res, err := soak.Run(ctx, soak.Config{Mix: m, Msrprelay: *bin, Engine: *engine, Duration: *duration, Actors: *actors,
		Sample: *sampleEvery, Warmup: *warmup, Seed: *seed, Keep: *keep, RelayArgs: relayArgs, Out: os.Stdout})
	if err != nil {
		return err
	}
	if !res.Pass {
		return errors.New("soak FAIL: " + strings.Join(res.Reasons, "; "))
	}
	return nil
}
