// Package netdrv is what every driver of the relay core shares, whatever
// its I/O model: the listening sockets and their kinds, accepting under
// the connection caps, the TLS handshake gate, dialing next hops for the
// engine, the options that configure all of that, and the start and stop
// of a server. A driver (engine/gnetdrv, engine/goroutinedrv) embeds a
// Front and implements Transport: it keeps only its own part, how the
// bytes of a connection it was handed are read and written.
//
// The handshakes run here, off any event loop, in one goroutine per
// connection that ends when the connection is handed over; a driver says
// how its I/O meets TLS (TLSMode): over a crypto/tls connection, or by
// feeding records to a tlsshim.Session itself. A new listener kind (a
// WebSocket upgrade after TCP or TLS) is one more step before the hand-over.
//
// Connections are counted from accept (or dial) to their end under one
// cap and per source address (Limiter), so that accept(2) never meets the
// open-files limit; the driver gives the count back (Front.Release) when a
// connection it was handed ends.
package netdrv
