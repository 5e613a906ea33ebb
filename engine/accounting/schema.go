package accounting

import (
	"context"
	"fmt"
	"strings"

	"github.com/msrprelay/msrprelay/engine/sqldb"
)

// column is one column of the accounting table; size is the most
// characters a text column takes (values are cut to fit, so one odd record
// never fails a batch).
type column struct {
	name string
	kind string // text, time, int
	size int
}

var columns = []column{
	{"session", "text", 16},
	{"username", "text", 64},
	{"domain", "text", 128},
	{"remote", "text", 64},
	{"start_time", "time", 0},
	{"end_time", "time", 0},
	{"duration_ms", "int", 0},
	{"end_reason", "text", 32},
	{"bytes_from_client", "int", 0},
	{"bytes_to_client", "int", 0},
	{"messages_from_client", "int", 0},
	{"messages_to_client", "int", 0},
	{"relay", "text", 255},
}

// Schema is the SQL that creates the accounting table (and its indexes)
// if it does not exist: one statement per element.
func Schema(d sqldb.Dialect, table string) ([]string, error) {
	if err := sqldb.CheckIdent("accounting table", table); err != nil {
		return nil, err
	}
	var defs []string
	switch d {
	case sqldb.Postgres:
		defs = append(defs, "id BIGSERIAL PRIMARY KEY")
	default:
		defs = append(defs, "id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY")
	}
	for _, c := range columns {
		defs = append(defs, c.name+" "+sqlType(d, c)+" NOT NULL")
	}
	q := d.Quote(table)
	if d == sqldb.MySQL {
		defs = append(defs, "INDEX "+table+"_start_idx (start_time)", "INDEX "+table+"_user_idx (username, domain)")
		return []string{"CREATE TABLE IF NOT EXISTS " + q + " (\n    " + strings.Join(defs, ",\n    ") + "\n) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4"}, nil
	}
	return []string{
		"CREATE TABLE IF NOT EXISTS " + q + " (\n    " + strings.Join(defs, ",\n    ") + "\n)",
		"CREATE INDEX IF NOT EXISTS " + table + "_start_idx ON " + q + " (start_time)",
		"CREATE INDEX IF NOT EXISTS " + table + "_user_idx ON " + q + " (username, domain)",
	}, nil
}

func sqlType(d sqldb.Dialect, c column) string {
	switch {
	case c.kind == "text":
		return fmt.Sprintf("VARCHAR(%d)", c.size)
	case c.kind == "int":
		return "BIGINT"
	case d == sqldb.Postgres:
		return "TIMESTAMP(3) WITH TIME ZONE"
	}
	return "DATETIME(3)" // UTC
}

// SchemaFile is Schema as the file shipped in configs/.
func SchemaFile(d sqldb.Dialect, table string) (string, error) {
	stmts, err := Schema(d, table)
	if err != nil {
		return "", err
	}
	return "-- msrprelay accounting: one row per ended session (times in UTC).\n" +
		"-- Created by `msrprelay db init URL`; generated from engine/accounting.\n" +
		strings.Join(stmts, ";\n") + ";\n", nil
}

// Init creates the accounting table if it does not exist.
func Init(ctx context.Context, db *sqldb.DB, table string) error {
	stmts, err := Schema(db.Dialect, table)
	if err != nil {
		return err
	}
	for _, q := range stmts {
		if _, err := db.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("%s: %w", db.Name, err)
		}
	}
	return nil
}
