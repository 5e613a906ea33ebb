// Command msrpbench drives MSRP load through a relay and measures it.
//
//	msrpbench run --relay 127.0.0.1:2855 --user U --password P --realm-host D ...
//	msrpbench compare [--quick] [--out bench/results] [--kamailio 127.0.0.1:2866]
//	msrpbench density --relay 127.0.0.1:2855 --sessions N --user U --password P --realm-host D ...
//	msrpbench forward --listen 127.0.0.1:2870
//	msrpbench auth-rate [--backends file,postgres-cache,postgres-nocache] [--duration 10s]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

const usage = `usage:
  msrpbench run [flags]      one load run against a relay (msrpbench run -h)
  msrpbench compare [flags]  the same scenarios against several relays, with a report
  msrpbench density [flags]  idle sessions held open: the relay's memory per session (msrpbench density -h)
  msrpbench forward [flags]  run the plain TCP forwarder (the floor a relay is compared against)
  msrpbench soak [flags]     bounded soak test: mixed traffic through a relay it starts, every body checked (msrpbench soak -h)
  msrpbench auth-rate [flags] AUTHs/s through a relay it starts, with each user backend: htdigest file, PostgreSQL with and without cache (msrpbench auth-rate -h)
`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	switch os.Args[1] {
	case "run":
		err = runCmd(ctx, os.Args[2:])
	case "compare":
		err = compareCmd(ctx, os.Args[2:])
	case "density":
		err = densityCmd(ctx, os.Args[2:])
	case "forward":
		err = forwardCmd(ctx, os.Args[2:])
	case "soak":
		err = soakCmd(ctx, os.Args[2:])
	case "auth-rate":
		err = authRateCmd(ctx, os.Args[2:])
	case "-h", "--help", "help":
		fmt.Print(usage)
		return
	default:
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	// -h has printed the flags: that is a success, not "flag: help
	// requested" and exit 1.
	if err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(os.Stderr, "msrpbench:", err)
		os.Exit(1)
	}
}
