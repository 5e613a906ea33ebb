// Package bufpool keeps byte buffers for reuse when their sizes vary by
// orders of magnitude: 100-byte chat messages and 64 KiB file chunks
// through the same relay. It is the one pooling policy of the module: the
// engine's queues, the drivers' read-side buffers and tlsshim's record
// buffers all use it.
//
// bytebufferpool.Pool calibrates itself to the sizes it saw most and drops
// every buffer above their 95th percentile. A relay that had carried
// mostly small messages then allocated every buffer of a file transfer
// afresh, and a file transfer after chat traffic ran at half speed; fed
// buffers that were emptied before their return, it learns that every
// buffer is tiny and drops them all. A Pool here keeps any buffer up to
// its Max and lets the garbage collector trim it, as sync.Pool does. The
// buffer type stays bytebufferpool.ByteBuffer, which the callers share.
//
// It lives under internal/ because tlsshim, which sits beside engine/ and
// must not import it, needs it as much as the engine does; Go's internal
// rule keeps it private to this module, so its API can change with its
// callers and binds no one outside.
package bufpool
