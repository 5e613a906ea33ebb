package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/msrprelay/msrprelay/bench/compare"
)

func compareCmd(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("msrpbench compare", flag.ContinueOnError)
	quick := fs.Bool("quick", false, "one short run per scenario and target (make bench)")
	out := fs.String("out", "", "directory for the report (latest.json, latest.md, throughput.svg, latency.svg) (default bench/results, bench/results/quick with --quick)")
	from := fs.String("from", "", "run nothing: draw the report in this latest.json again into --out (default its directory)")
	kamailio := fs.String("kamailio", "", "address of a Kamailio msrp relay with digest AUTH to compare too (e.g. 127.0.0.1:2866)")
	kamailioWS := fs.String("kamailio-ws", "", "ws listener of Kamailio's WebSocket relay (../shared/peers/kamailio-ws-peer, digest AUTH) for the WebSocket cases (e.g. 127.0.0.1:8082)")
	kamailioWSS := fs.String("kamailio-wss", "", "with --kamailio-ws: its wss listener (kamailio-ws-peer's wss option; WSSPORT, e.g. 127.0.0.1:8443)")
	bin := fs.String("msrprelay", "./bin/msrprelay", "the relay binary (make build)")
	rounds := fs.Int("rounds", 0, "rounds without --quick (default 5)")
	perRun := fs.Duration("per-run", 0, "traffic time per run (default 3s quick, 5s full)")
	only := fs.String("scenarios", "", "comma-separated scenario names to run (default all)")
	density := fs.Int("density", 0, "also measure relay memory per idle session with this many sessions per engine (0: off; at most 9000)")
	pin := fs.Int("pin-relay-cpu", -1, "bind every relay to this CPU and the generator to another (-1: no pinning)")
	active := fs.Bool("active", false, "with --density: run 100 pairs for 3 s alongside the idle sessions and report their latency")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *from != "" {
		rep, err := compare.ReadReport(*from)
		if err != nil {
			return err
		}
		if *out == "" {
			*out = filepath.Dir(*from)
		}
		return writeReport(*out, rep)
	}
	if *kamailioWSS != "" && *kamailioWS == "" {
		return errors.New("--kamailio-wss needs --kamailio-ws")
	}
	*out = outDir(*out, *quick)
	o := compare.Options{Quick: *quick, Rounds: *rounds, PerRun: *perRun, Msrprelay: *bin, Kamailio: *kamailio, KamailioWS: *kamailioWS, KamailioWSS: *kamailioWSS,
		Density: *density, DensityActive: *active, Pin: *pin >= 0, RelayCPU: max(*pin, 0),
		Log: func(format string, a ...any) {
			fmt.Fprintf(os.Stderr, time.Now().Format("15:04:05 ")+format+"\n", a...)
		}}
	if *only != "" {
		o.Only = strings.Split(*only, ",")
	}
	rep, err := compare.Compare(ctx, o)
	if err != nil {
		return err
	}
	if err := compare.WriteMarkdown(os.Stdout, rep); err != nil {
		return err
	}
	return writeReport(*out, rep)
}

func writeReport(dir string, rep *compare.Report) error {
	if err := compare.WriteFiles(dir, rep); err != nil {
		return err
	}
	for _, f := range compare.Files {
		fmt.Fprintln(os.Stderr, "wrote", filepath.Join(dir, f))
	}
	return nil
}

// outDir is where a comparison's report goes: --out, else bench/results for
// a full run and bench/results/quick for a quick one, so that a quick run
// never replaces the full run's report that the README quotes.
func outDir(out string, quick bool) string {
	switch {
	case out != "":
		return out
	case quick:
		return "bench/results/quick"
	}
	return "bench/results"
}
