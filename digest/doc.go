// Package digest owns HTTP Digest authentication (RFC 2617, qop=auth, MD5)
// as MSRP AUTH uses it (RFC 4976 §5.1, §9.1): the credential store read
// from an Apache htdigest file, the nonces and opaque value of a challenge,
// the check of an Authorization against both, and the rspauth of the
// Authentication-Info that answers it.
//
// It knows nothing of sockets, frames or sessions: the engine parses the
// header with codec.ParseDigest, passes the parsed values and the AUTH's
// rightmost To-Path URI in, and turns the Verdict into a status code.
//
// Nonces are stateless: each carries its issue time and connection id and
// a MAC over both and the realm, so a relay keeps no nonce table, a nonce
// is good only on the connection that asked for it, and a restart (new
// key) simply turns old nonces into a fresh challenge. Replay within a
// connection is the caller's to refuse: Verify returns the nonce count.
//
// Nothing here allocates on the per-AUTH path (Lookup, Check, Verify, and
// Append into a buffer with room), and every byte slice passed in is only
// read during the call, never kept.
package digest
