// Package gnetdrv drives the relay core (package engine) with gnet's epoll
// reactor: one event loop per core, every connection owned by one loop.
//
// It owns the sockets and nothing of MSRP: it hands the engine the bytes
// gnet read (valid until OnTraffic returns), writes what the engine queued
// when the engine wakes a connection, and enforces the connection caps that
// keep accept(2) from ever failing with EMFILE (which would stop gnet's
// whole engine).
//
// Flushes for connections on the loop that is running are batched to the end
// of the current OnTraffic; connections on other loops are flushed by a task
// posted to their loop. A paused reader whose inbound buffer grows past a
// bound is parked: its socket is duplicated, the gnet connection closed, and
// the duplicate enrolled again when the engine resumes it, so the kernel's
// receive window, not the relay's memory, holds the sender back.
package gnetdrv
