// Package enginetest drives the relay core (package engine) without
// sockets, for the tests of the engine, its drivers and a fuzzer: a fake
// Link that counts what the engine asks of its driver and plays the
// driver's part in a Flush (taking all, part or none of the queued bytes,
// holding some off the wire until Drain, message ends for a WebSocket
// peer); a Decoder that splits what went on the wire into frames, in
// whatever cuts it came; Feed, which hands a Conn its input in any cuts;
// and a relay with a settable clock and users who can AUTH.
//
// It uses only engine's exported API, so it sees the core as a driver
// does. engine's own internal tests cannot import it (engine would import
// itself): what they need of the core's insides they keep in package
// engine, and everything else lives here.
package enginetest
