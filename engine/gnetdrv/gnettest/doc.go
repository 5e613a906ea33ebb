// Package gnettest starts an in-process gnet relay for the tests of what is
// built around the relay core (user stores, accounting, the load tool), so
// that each of them does not write the start and stop again.
package gnettest
