// Package e2etest is the end-to-end suite every driver of the relay core
// must pass: real loopback sockets, real clients (package endpoint), the
// topologies and failure cases of RFC 4976. A driver's test calls Run with a
// function that starts a relay.
package e2etest
