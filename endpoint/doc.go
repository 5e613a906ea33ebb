// Package endpoint is the MSRP endpoint side of a connection to a relay
// (RFC 4975, RFC 4976): one frame reader, requests and responses written
// out, AUTH with digest in each of the forms real clients use, chunks sent
// with a transaction id their body cannot end early, and messages
// reassembled from their chunks. It reaches a relay over TCP, TLS, or
// WebSocket (RFC 7977, ws.go), where every frame it writes is one
// WebSocket message because it writes every frame in one Write. msrpclient, the load generator, the soak
// test and the engine's end-to-end suite all speak MSRP through it.
//
// It sits beside codec and digest, below everything that drives a
// relay, so the engine's tests and the shipped client need nothing from
// the benchmark folder. It is written for driving a relay, not for a user
// agent's full feature set.
package endpoint
