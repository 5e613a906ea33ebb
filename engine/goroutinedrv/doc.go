// Package goroutinedrv drives the relay core (package engine) the classic
// way: a reader and a writer goroutine per connection over net.Conn, with
// blocking reads and writes. It exists so that the reactor (engine/gnetdrv)
// can be measured against the design most Go servers use, with the same
// core and codec: the comparison isolates the I/O model.
//
// Listening, accepting under the caps, TLS handshakes and dials are its
// netdrv.Front's; TLS is a crypto/tls connection (netdrv.TLSStream). It
// is written as well as that design allows: buffered reads into one
// reusable buffer, writes batched by the engine's out queue, no global lock,
// and backpressure for free (a paused reader simply stops reading, and TCP
// holds the sender).
package goroutinedrv
