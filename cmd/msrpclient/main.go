// Command msrpclient is a try-out MSRP client for operators checking a relay
// deployment: "receive" authenticates at a relay and prints the To-Path a
// sender needs, then saves what arrives; "send" sends a text message or a
// file along such a path. It plays the part of the seed relay's send-file and
// receive-file scripts, over the same wire protocol (RFC 4975, RFC 4976).
//
// Results go to stdout, one line each, so scripts can read them; progress and
// diagnostics go to stderr.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

const usage = `usage:
  msrpclient receive --relay HOST:PORT --user U --password P [flags]
  msrpclient send --to-path "URI URI ..." (--message TEXT | --file PATH) [flags]

Run "msrpclient receive --help" or "msrpclient send --help" for the flags.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	switch {
	case err == nil:
	case errors.Is(err, flag.ErrHelp):
	case errors.Is(err, errUsage):
		os.Exit(2)
	default:
		fmt.Fprintln(os.Stderr, "msrpclient:", err)
		os.Exit(1)
	}
}

// errUsage is a command line that cannot run; the usage has been printed.
var errUsage = errors.New("usage")

// run dispatches to a subcommand. It returns flag.ErrHelp after --help.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errUsage
	}
	switch args[0] {
	case "receive":
		return runReceive(ctx, args[1:], stdout, stderr)
	case "send":
		return runSend(ctx, args[1:], stdout, stderr)
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, usage)
		return flag.ErrHelp
	}
	fmt.Fprintf(stderr, "unknown command %q\n%s", args[0], usage)
	return errUsage
}

// parseFlags parses args with fs, turning a flag error into errUsage (the
// flag package has printed it and the usage) and --help into flag.ErrHelp.
func parseFlags(fs *flag.FlagSet, args []string) error {
	err := fs.Parse(args)
	switch {
	case err == nil:
	case errors.Is(err, flag.ErrHelp):
		return err
	default:
		return errUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(fs.Output(), "unexpected argument %q\n", fs.Arg(0))
		fs.Usage()
		return errUsage
	}
	return nil
}

// usageError prints msg and the usage of fs, and returns errUsage.
func usageError(fs *flag.FlagSet, format string, a ...any) error {
	fmt.Fprintf(fs.Output(), format+"\n", a...)
	fs.Usage()
	return errUsage
}
