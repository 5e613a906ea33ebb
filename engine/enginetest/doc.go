// Package enginetest drives the relay core (package engine) without
// sockets, for the tests of the engine, its drivers and a fuzzer: a fake
// Link that records what the engine asks of its driver and takes the
// queued bytes as a socket with as much room as the test likes would, a
// Decoder that splits what was taken into frames, Feed to hand a Conn its
// input in any cuts, and a relay with a settable clock and AUTH-able
// users.
//
// It uses only engine's exported API, so it sees the core as a driver
// does. engine's own internal tests cannot import it (engine would import
// itself): what they need of the core's insides they keep in package
// engine, and everything else lives here.
package enginetest
