// Command msrprelay is the MSRP relay daemon (RFC 4976).
package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "msrprelay: the relay engine is not built yet; the codec is (see README.md)")
}
