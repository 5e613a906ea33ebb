package accounting

import (
	"fmt"
	"os"
	"testing"

	"github.com/msrprelay/msrprelay/engine/sqldb"
)

// TestSchemaFiles: the schemas shipped in configs/ are what `msrprelay db
// init` creates. MSRP_WRITE_SCHEMA=1 rewrites them.
func TestSchemaFiles(t *testing.T) {
	for _, d := range []sqldb.Dialect{sqldb.Postgres, sqldb.MySQL} {
		want, err := SchemaFile(d, "msrp_acc")
		if err != nil {
			t.Fatal(err)
		}
		path := fmt.Sprintf("../../configs/msrp_acc.%s.sql", d)
		if os.Getenv("MSRP_WRITE_SCHEMA") == "1" {
			if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		got, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != want {
			t.Fatalf("%s differs from the schema db init creates (MSRP_WRITE_SCHEMA=1 rewrites it):\n%s", path, want)
		}
	}
	if _, err := Schema(sqldb.Postgres, "acc; DROP TABLE x"); err == nil {
		t.Fatal("a table name that is not an identifier was accepted")
	}
}

func TestTextFits(t *testing.T) {
	for _, c := range []struct {
		in   string
		size int
		want string
	}{
		{"alice", 64, "alice"},
		{"abcdef", 3, "abc"},
		{"ääää", 2, "ää"},
		{"a\x00b", 8, "a?b"},
		{"a\xffb", 8, "a?b"},
	} {
		if got := text(c.in, c.size); got != c.want {
			t.Fatalf("text(%q, %d) = %q, want %q", c.in, c.size, got, c.want)
		}
	}
}
