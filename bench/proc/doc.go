// Package proc owns the processes a benchmark starts and watches: a child
// (a relay binary, the forwarder, a peer) started on free loopback ports
// with its output captured, waited for until it is ready, stopped with
// SIGTERM and killed if it outlives its grace; and what /proc says a
// process costs (CPU time, resident memory, open descriptors).
package proc
