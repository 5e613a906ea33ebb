// Package forwarder is the floor a relay is measured against: a TCP
// listener that takes accepted connections in pairs (the first is bob, the
// second alice) and copies bytes between them both ways, parsing nothing.
// On loopback its cost is the kernel's: a read and a write per hop.
package forwarder
