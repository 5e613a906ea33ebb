// Package client is a small MSRP endpoint over a net.Conn: AUTH with
// digest (in each of the forms real clients use), SEND and REPORT frames,
// and a frame reader. msrpclient, msrpbench and the end-to-end tests use it.
// It is written for clarity and for driving a relay, not for a user agent's
// full feature set.
package client
