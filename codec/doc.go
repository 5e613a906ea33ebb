// Package codec turns bytes into MSRP frames (RFC 4975) and frames back into
// bytes. It owns the wire format and nothing else: it knows no sockets, no
// sessions and no relay rules.
//
// It is written for a reactor that hands it whatever bytes have arrived:
//
//   - Frame.Parse reads a frame's start line and headers from the caller's
//     buffer and records offsets into it. Nothing is copied; the accessors
//     return sub-slices of that buffer, valid for as long as the caller keeps
//     the buffer unchanged (for gnet: until OnTraffic returns).
//   - BodyScanner finds a chunk's end-line across any read boundary and says
//     which bytes are body, holding back only a possible partial end-line.
//   - The Append functions write frames into a caller's slice; AppendRewrite
//     forwards a parsed header with a new transaction id and paths and copies
//     every other header line as it came.
//
// Errors come in two kinds (see Error): a status the engine can answer
// (400 and the like) while the stream stays in sync, and a violation after
// which the connection cannot be trusted and must be closed. ErrNeedMore is
// neither: it asks for more bytes.
package codec
