// Package tlsshim runs TLS (crypto/tls) for connections whose I/O an event
// loop drives. It owns the TLS state machine and the buffers around it, and
// nothing of the loop or of MSRP.
//
// The handshake runs on the connection's socket directly, in a short-lived
// goroutine of the caller's, so its CPU work (key exchange, certificates)
// never stalls an event loop. After it the Session switches to fed mode:
// the loop hands it ciphertext as it arrives (Feed), gets plaintext back,
// and encrypts what it writes (Seal); no goroutine remains.
//
// Fed mode relies on one crypto/tls behaviour, pinned by a test: when the
// underlying Read returns a net.Error whose Temporary() is true, tls.Conn
// keeps the partial record it has and returns the error without breaking
// the connection, so the next Read continues the record.
//
// Buffers the shim owns (bytebufferpool.ByteBuffer) come from the module's
// pools (internal/bufpool) and go back when empty, so an idle session holds
// only crypto/tls's own per-connection state.
package tlsshim
