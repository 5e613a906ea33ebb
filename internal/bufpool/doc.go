// Package bufpool keeps byte buffers for reuse when their sizes vary by
// orders of magnitude: 100-byte chat messages and 64 KiB file chunks
// through the same relay.
//
// bytebufferpool.Pool calibrates itself to the sizes it saw most and drops
// every buffer above their 95th percentile. A relay that had carried
// mostly small messages then allocated every buffer of a file transfer
// afresh, and a file transfer after chat traffic ran at half speed. A
// Pool here keeps any buffer up to its Max
// and lets the garbage collector trim it, as sync.Pool does.
package bufpool
