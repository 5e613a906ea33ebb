// Package load drives MSRP traffic through a relay (or the plain TCP
// forwarder it is compared against) and measures it: pairs of endpoints
// over tcp, tls, ws or wss (RFC 7977; the two ends of a pair may differ),
// bob AUTHs and receives, alice sends, every body carries a sequence number,
// a send timestamp and a checksum that bob verifies. It owns the wire work
// of the generator (frame templates patched in place; frames read with
// package endpoint's Reader, parsed in place over a reused buffer) so that
// the generator costs little per message and allocates nothing in the
// steady state, and the Result a run reports:
// throughput, latency percentiles, errors by kind, and the CPU of the relay
// and of the generator per delivered message.
package load
