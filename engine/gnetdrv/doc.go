// Package gnetdrv drives the relay core (package engine) with gnet's epoll
// reactor: one event loop per core, every connection owned by one loop.
//
// It owns the reading and writing of the sockets and nothing of MSRP: it
// hands the engine the bytes gnet read (valid until OnTraffic returns) and
// writes what the engine queued when the engine wakes a connection.
// Listening, accepting under the caps (which keep accept(2) from ever
// failing with EMFILE, which would stop gnet's whole engine), TLS
// handshakes and dials are its netdrv.Front's; TLS records are fed to a
// tlsshim.Session on the loop (netdrv.TLSFed).
//
// Flushes for connections on the loop that is running are batched to the end
// of the current OnTraffic; connections on other loops are flushed by a task
// posted to their loop.
//
// gnet cannot stop reading a socket, so a paused reader whose inbound buffer
// grows past a bound is parked: its socket is duplicated and the gnet
// connection closed, and the kernel's receive window, not the relay's
// memory, holds the sender back. The loop it was parked on keeps it: it
// feeds the engine what was read before parking as the engine resumes it,
// writes the engine's answers to the held socket, and enrolls the socket
// in gnet again only once the engine has taken all it held and asks for
// more, so a sender the engine keeps pausing never has more than one
// park's worth of input in memory. Moving a connection next to its
// session's owner (settling) is parking with an immediate resume on the
// chosen loop. park.go has the phases a link goes through and every
// transition between them; a socket that died while parked ends the link
// instead of reaching gnet, whose enroll would panic on it.
//
// gnet recovers no panic: contain.go recovers at each boundary and closes
// only the connection concerned.
package gnetdrv
