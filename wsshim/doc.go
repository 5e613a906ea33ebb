// Package wsshim runs the server side of WebSocket (RFC 6455) for
// connections whose I/O an event loop drives. It owns the upgrade
// handshake, the frame reader and writer, and the buffers around them; it
// knows nothing of the loop or of MSRP, like tlsshim beside it.
//
// A Session is fed bytes as they arrive and never waits for more: the
// upgrade request is buffered (bounded by Config.MaxRequest) until its
// blank line, then answered in one go; frame headers and payloads may be
// split anywhere across Feeds. gobwas/ws parses the request (its Upgrader
// runs over the buffered request, which is whole, so it never blocks),
// checks frame headers and encodes them; none of its readers that wait for
// a whole frame or message are used.
//
// Data frames, text and binary alike, yield their payload as bytes: RFC
// 7977 §4.2 says text frames are read as binary. Frames a Session writes
// are binary. RFC 7977's examples show text, but its §4.2 makes every
// MSRP WebSocket client accept both, and a browser fails the connection on
// a text message that is not UTF-8: an MSRP chunk of a file or an image is
// not, and the opcode is chosen at a message's first frame, before the
// rest of the chunk is known. Binary carries every chunk safely.
//
// A message's frames are joined in order; message boundaries are not
// reported, since MSRP frames itself (RFC 7977 §5.1 puts one chunk in one
// message; the reader above checks chunks, not this package).
//
// On any error from Feed the Session is dead: Output then holds the last
// words (an HTTP error for a refused upgrade, a close frame otherwise),
// which the caller writes before closing the connection.
//
// Buffers (bytebufferpool.ByteBuffer) come from the module's pools
// (internal/bufpool) and go back when empty, so an idle upgraded session
// holds none.
package wsshim
