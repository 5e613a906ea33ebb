// Package soak is a bounded soak test of msrprelay: it starts the daemon
// itself (both listeners, metrics, a temporary credentials file and its
// ephemeral certificate), runs mixed traffic through it over TCP and TLS
// for a fixed time with a bounded number of concurrent actors, checks every
// delivered body end to end, samples the relay's RSS, open descriptors and
// goroutines, and decides PASS or FAIL.
//
// Actors cycle through these scenarios, each on msrp or msrps at random:
//
//   - chat: small SENDs both ways with Success-Report yes, every one
//     answered and its success REPORT awaited; half of them refresh their
//     session mid-way (AUTH to the session URI on the owning connection,
//     expecting 200 and the same Use-Path);
//   - file: one message of a few MB in 64 KiB chunks, with a success
//     REPORT at the end;
//   - slow: a file into a receiver reading at a throttled rate;
//   - sender-drop: a file whose sender closes or resets its connection
//     in the middle of a chunk;
//   - receiver-drop: a file whose receiver closes or resets in the
//     middle of a chunk;
//   - auth-fail: AUTHs with a wrong password (then, sometimes, the right
//     one), and the connection closed by the relay after the third.
//
// Every body is a deterministic pattern of its Message-ID and byte offset
// (see Pattern), so any byte delivered anywhere is checked where it lands.
// A message is lost when a chunk of it was accepted (200) and never arrived
// whole, and no failure REPORT covers it.
//
// Resources: every sample interval the relay's VmRSS, open descriptors and
// go_goroutines (from /metrics) are printed. PASS needs no failure, each
// of the three flat after warm-up (see Flat), and, 20 s after the traffic,
// no connection or session left and descriptors and goroutines back at
// their baseline (plus a few), no recovered panic, and a clean exit on
// SIGTERM.
//
// SOAK_DEBUG=1 in the environment prints the steps of every scenario that
// took over 10 s and each sender drop's outcome.
package soak
