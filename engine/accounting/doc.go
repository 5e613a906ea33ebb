// Package accounting writes a row per ended session to an operator's SQL
// table (--accounting): who, from where, when, for how long, why it ended,
// and the bytes and messages each way. It is the engine.Accounting the
// daemon installs.
//
// The engine hands records over without ever waiting: they go into a
// bounded queue, one goroutine writes them in batches, and a database that
// is slow or down holds them there, retried, until the queue is full;
// records beyond the bound are dropped, counted and logged. It also owns
// the table's schema for each dialect (`msrprelay db init`).
package accounting
