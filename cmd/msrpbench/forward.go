package main

import (
	"context"
	"flag"
	"fmt"
	"os"

	"github.com/msrprelay/msrprelay/bench/compare"
	"github.com/msrprelay/msrprelay/bench/forwarder"
)

func forwardCmd(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("msrpbench forward", flag.ContinueOnError)
	listen := fs.String("listen", "127.0.0.1:2870", "where to accept (connections pair up in accept order: bob, then alice)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	f, err := forwarder.Listen(*listen)
	if err != nil {
		return err
	}
	fmt.Fprintln(os.Stderr, compare.ForwardReadyLine, f.Addr())
	<-ctx.Done()
	return f.Close()
}
