// Command msrprelay is the MSRP relay daemon (RFC 4976).
//
//	msrprelay [flags]                      run the relay
//	msrprelay passwd FILE USER REALM       add or replace a user (password on stdin)
//	msrprelay db init URL                  create the accounting table
//	msrprelay --version                    print the version and commit
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "passwd" {
		if err := runPasswd(os.Args[2:], os.Stdin, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, "msrprelay passwd:", err)
			os.Exit(2)
		}
		return
	}
	if len(os.Args) > 1 && os.Args[1] == "db" {
		if err := runDB(os.Args[2:], os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, "msrprelay db:", err)
			os.Exit(2)
		}
		return
	}
	if len(os.Args) > 1 && (os.Args[1] == "--version" || os.Args[1] == "-version") {
		fmt.Println(versionLine())
		return
	}
	err := run(os.Args[1:])
	if errors.Is(err, flag.ErrHelp) {
		return // the flag set printed the usage
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "msrprelay:", err)
		os.Exit(1)
	}
}

// versionLine names the module version and the commit the binary was
// built from, as the Go toolchain recorded them.
func versionLine() string {
	version, commit := buildVersion()
	return fmt.Sprintf("msrprelay %s commit %s %s", version, commit, runtime.Version())
}

// buildVersion is the module version and the commit (with "-modified"
// for a build from a changed tree).
func buildVersion() (version, commit string) {
	version, commit, dirty := "(devel)", "unknown", ""
	if bi, ok := debug.ReadBuildInfo(); ok {
		if bi.Main.Version != "" {
			version = bi.Main.Version
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				commit = s.Value
			case "vcs.modified":
				if s.Value == "true" {
					dirty = "-modified"
				}
			}
		}
	}
	return version, commit + dirty
}
