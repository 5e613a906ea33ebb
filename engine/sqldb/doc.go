// Package sqldb opens the operator's SQL databases from the URLs the
// daemon takes (postgres://USER:PASS@HOST:PORT/DB through pgx,
// mysql://USER:PASS@HOST:PORT/DB through go-sql-driver/mysql) and knows
// how each dialect spells what the relay's queries need: quoted
// identifiers and numbered or positional parameters.
//
// Table and column names come from the operator's flags, so they are
// checked to be plain identifiers and quoted; values always travel as
// query parameters, never in the SQL text.
package sqldb
