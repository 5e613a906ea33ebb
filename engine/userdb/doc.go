// Package userdb finds digest users in an operator's SQL table, by
// default the `subscriber` table of OpenSIPS and Kamailio, for the relay's
// AUTH: it is the engine.UserStore installed when --credentials is a
// database URL.
//
// It owns the lookup query (identifiers checked and quoted, values always
// parameters), a bounded pool of workers that run it, the coalescing of
// lookups for one user, the deadline by which every lookup is answered
// (an error when the database is down or slow), and a bounded cache of
// positive and negative answers.
package userdb
