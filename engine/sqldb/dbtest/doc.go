// Package dbtest starts throwaway PostgreSQL and MariaDB servers for the
// tests of the packages that talk SQL: Debian's server binaries, each in a
// temporary directory, on loopback with a port of its own, with a user
// and a database for the relay. A server can be stopped and started again
// on the same port and data (the database going away mid-run).
//
// A test package starts each server once in TestMain and shares it. When
// a server's binaries are missing the tests that need it skip, except
// with MSRP_REQUIRE_DB=1 (CI), where they fail.
package dbtest
