// Command msrprelay is the MSRP relay daemon (RFC 4976).
//
//	msrprelay [flags]                      run the relay
//	msrprelay passwd FILE USER REALM       add or replace a user (password on stdin)
package main

import (
	"fmt"
	"os"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "passwd" {
		if err := runPasswd(os.Args[2:], os.Stdin, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, "msrprelay passwd:", err)
			os.Exit(2)
		}
		return
	}
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "msrprelay:", err)
		os.Exit(1)
	}
}
