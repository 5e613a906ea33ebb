// Package engine is the relay core of RFC 4976: sessions, AUTH, routing,
// transactions, timers and REPORT generation. It knows no sockets. A driver
// (engine/gnetdrv, the goroutine driver) feeds it bytes and events and does
// the I/O it asks for through the Link interface.
//
// # Inside
//
// A Conn (conn.go) is one connection as the core sees it. Its inbound side
// parses, authenticates and routes (handle.go, auth.go, route.go); its
// outbound side is an out (out.go), the multiplexer for its wire, with the
// chunks streamed through it (stream.go) and the transactions waiting for
// their responses (txn.go). The out asks its connection only for what
// outOwner names, and a connection sending toward it only for what sender
// names. Fairness on connections shared between relays (a client's
// window, the 200s held back) is window.go; REPORTs and failed
// transactions, report.go; a driver goroutine's scratch, worker.go.
//
// # Concurrency contract
//
// Every Conn has three kinds of state, and the rules say which goroutine may
// touch which:
//
//   - Inbound state (parser progress, the frame being received): only the
//     goroutine the driver calls Receive on. A driver calls Receive for one
//     Conn from one goroutine at a time (for gnet: the Conn's event loop).
//   - Outbound state (the out mux: bytes queued for the wire, chunks being
//     streamed, transactions waiting for a response): guarded by the Conn's
//     own mutex. Any goroutine may queue bytes for any Conn; the driver takes
//     them with Flush on the Conn's own goroutine, as its Link asked to be
//     woken for.
//   - Sessions: the registry is sharded, each shard behind its own RWMutex;
//     a Session's binding is an atomic pointer, so two connections racing to
//     bind one session see exactly one winner (the other gets 506).
//
// There is no global lock: two sessions on different event loops never
// contend, and a SEND takes at most its target's out lock.
//
// # Borrowed bytes
//
// Receive's buffer belongs to the driver and is valid only during the call;
// the engine copies what it forwards into the target's out queue (one copy)
// and keeps nothing else from it.
//
// # Backpressure
//
// A Conn whose target holds more than Config.HighWater unsent bytes stops
// consuming input (Receive returns early and Paused reports true) and is
// resumed through its Link when the target drains below Config.LowWater.
// Nothing is dropped and no connection is closed for being slow.
package engine
