package digest

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseCredentials(t *testing.T) {
	const bobHA1 = "0123456789abcdef0123456789abcdef"
	tests := []struct {
		name    string
		file    string
		wantLen int
		wantErr string // substring; empty means no error
	}{
		{name: "empty", file: "", wantLen: 0},
		{name: "one", file: "alice:example.com:" + vHA1 + "\n", wantLen: 1},
		{name: "no final newline", file: "alice:example.com:" + vHA1, wantLen: 1},
		{name: "comments, blanks, CRLF, indent",
			file:    "# users\r\n\r\n  \t\n  # indented comment\nalice:example.com:" + vHA1 + "\r\n  bob:example.com:" + bobHA1 + "  \n",
			wantLen: 2},
		{name: "upper-case HA1", file: "alice:example.com:" + strings.ToUpper(vHA1), wantLen: 1},
		{name: "same user, two realms", file: "alice:example.com:" + vHA1 + "\nalice:example.org:" + vHA1, wantLen: 2},
		{name: "colon in realm", file: "alice:sip:example.com:" + vHA1, wantLen: 1},
		{name: "no colon", file: "# c\nalice", wantErr: "line 2: want user:realm:HA1"},
		{name: "one colon", file: "alice:" + vHA1, wantErr: "line 1: want user:realm:HA1"},
		{name: "empty user", file: ":example.com:" + vHA1, wantErr: "line 1: empty user name"},
		{name: "empty realm", file: "\n\nalice::" + vHA1, wantErr: "line 3: empty realm"},
		{name: "short HA1", file: "alice:example.com:" + vHA1[:31], wantErr: "line 1: HA1 is not 32 hex digits"},
		{name: "long HA1", file: "alice:example.com:" + vHA1 + "0", wantErr: "line 1: HA1"},
		{name: "HA1 not hex", file: "alice:example.com:" + strings.Repeat("g", 32), wantErr: "line 1: HA1"},
		{name: "plain password", file: "alice:example.com:1234", wantErr: "line 1: HA1"},
		{name: "duplicate", file: "alice:example.com:" + vHA1 + "\n#\nalice:example.com:" + bobHA1, wantErr: "line 3: user \"alice\" appears twice"},
		{name: "line too long", file: "# ok\n" + strings.Repeat("x", 70000), wantErr: "line 2: "},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := ParseCredentials(strings.NewReader(tc.file))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tc.wantErr)
				}
				if strings.Contains(err.Error(), vHA1) {
					t.Errorf("error quotes the hash: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.Len() != tc.wantLen {
				t.Errorf("Len = %d, want %d", c.Len(), tc.wantLen)
			}
		})
	}
}

func TestLookup(t *testing.T) {
	c, err := ParseCredentials(strings.NewReader(
		"alice:example.com:" + strings.ToUpper(vHA1) + "\nAlice:example.com:0123456789abcdef0123456789abcdef\nalice:sip:example.com:" + vHA1 + "\n"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		user, realm string
		want        string // empty means not found
	}{
		{"alice", "example.com", vHA1}, // stored upper case, returned lower
		{"Alice", "example.com", "0123456789abcdef0123456789abcdef"},
		{"ALICE", "example.com", ""},
		{"alice", "Example.com", ""},
		{"alice", "example.org", ""},
		{"alice", "sip:example.com", vHA1},
		{"", "example.com", ""},
		{"alice:example.com", "", ""},
	} {
		ha1, ok := c.Lookup([]byte(tc.user), []byte(tc.realm))
		if ok != (tc.want != "") || (ok && string(ha1[:]) != tc.want) {
			t.Errorf("Lookup(%q, %q) = %s, %v; want %q", tc.user, tc.realm, ha1, ok, tc.want)
		}
	}
	var none *Credentials
	if _, ok := none.Lookup([]byte("alice"), []byte("example.com")); ok || none.Len() != 0 {
		t.Error("nil Credentials knows a user")
	}
	if _, ok := new(Credentials).Lookup([]byte("alice"), []byte("example.com")); ok {
		t.Error("zero Credentials knows a user")
	}
}

func TestLoadCredentials(t *testing.T) {
	c := testCreds(t)
	if ha1, ok := c.Lookup([]byte(vUser), []byte(vRealm)); !ok || string(ha1[:]) != vHA1 || c.Len() != 1 {
		t.Errorf("testdata/htdigest: Lookup = %s, %v; Len %d", ha1, ok, c.Len())
	}
	if _, err := LoadCredentials(filepath.Join(t.TempDir(), "missing")); !os.IsNotExist(err) {
		t.Errorf("missing file: %v", err)
	}
	bad := filepath.Join(t.TempDir(), "bad")
	os.WriteFile(bad, []byte("alice:example.com:x\n"), 0o600)
	if _, err := LoadCredentials(bad); err == nil || !strings.Contains(err.Error(), bad+": htdigest line 1") {
		t.Errorf("bad file: %v", err)
	}
}

func TestAppendEntry(t *testing.T) {
	got := string(AppendEntry([]byte("x\n"), vUser, vRealm, vPassword))
	if want := "x\nalice:example.com:" + vHA1 + "\n"; got != want {
		t.Errorf("AppendEntry = %q, want %q", got, want)
	}
}

func TestUpsertFile(t *testing.T) {
	entry := func(user, realm, pw string) string { return string(AppendEntry(nil, user, realm, pw)) }
	tests := []struct {
		name        string
		old         *string // nil: no file
		user, realm string
		want        string
		wantErr     string
	}{
		{name: "create", user: "alice", realm: "example.com",
			want: entry("alice", "example.com", "pw")},
		{name: "add, keep others", old: ptr("# users\nbob:example.com:" + vHA1 + "\n"), user: "alice", realm: "example.com",
			want: "# users\nbob:example.com:" + vHA1 + "\n" + entry("alice", "example.com", "pw")},
		{name: "add after a last line without newline", old: ptr("bob:example.com:" + vHA1), user: "alice", realm: "example.com",
			want: "bob:example.com:" + vHA1 + "\n" + entry("alice", "example.com", "pw")},
		{name: "replace in place", old: ptr("# a\r\nalice:example.com:" + vHA1 + "\r\n\nbob:example.com:" + vHA1 + "\n"), user: "alice", realm: "example.com",
			want: "# a\r\n" + entry("alice", "example.com", "pw") + "\nbob:example.com:" + vHA1 + "\n"},
		{name: "same user, other realm is another entry", old: ptr("alice:example.org:" + vHA1 + "\n"), user: "alice", realm: "example.com",
			want: "alice:example.org:" + vHA1 + "\n" + entry("alice", "example.com", "pw")},
		{name: "user names are case-sensitive", old: ptr("Alice:example.com:" + vHA1 + "\n"), user: "alice", realm: "example.com",
			want: "Alice:example.com:" + vHA1 + "\n" + entry("alice", "example.com", "pw")},
		{name: "bad file left alone", old: ptr("alice:example.com\n"), user: "bob", realm: "example.com",
			want: "alice:example.com\n", wantErr: "htdigest line 1"},
		{name: "colon in user", user: "al:ice", realm: "example.com", wantErr: "user name"},
		{name: "comment user", user: "#alice", realm: "example.com", wantErr: "user name"},
		{name: "newline in realm", user: "alice", realm: "example.com\nmallory:x", wantErr: "realm"},
		{name: "empty user", user: "", realm: "example.com", wantErr: "empty user"},
		{name: "empty realm", user: "alice", realm: "", wantErr: "empty realm"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "htdigest")
			if tc.old != nil {
				if err := os.WriteFile(path, []byte(*tc.old), 0o600); err != nil {
					t.Fatal(err)
				}
				if err := os.Chmod(path, 0o640); err != nil { // not subject to umask
					t.Fatal(err)
				}
			}
			err := UpsertFile(path, tc.user, tc.realm, "pw")
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tc.wantErr)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			got, rerr := os.ReadFile(path)
			if tc.want == "" {
				if !os.IsNotExist(rerr) {
					t.Errorf("file written after a refusal: %q", got)
				}
			} else if string(got) != tc.want {
				t.Errorf("file:\n%q\nwant:\n%q", got, tc.want)
			}
			if tc.wantErr == "" {
				c, err := LoadCredentials(path)
				if err != nil {
					t.Fatal(err)
				}
				if ha1, ok := c.Lookup([]byte(tc.user), []byte(tc.realm)); !ok || string(ha1[:]) != HA1(tc.user, tc.realm, "pw") {
					t.Error("upserted user does not verify")
				}
				wantMode := fs.FileMode(0o600)
				if tc.old != nil {
					wantMode = 0o640
				}
				if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != wantMode {
					t.Errorf("mode %v, want %v", fi.Mode().Perm(), wantMode)
				}
			}
			if names, _ := os.ReadDir(dir); len(names) > 1 {
				t.Errorf("temporary files left behind: %v", names)
			}
		})
	}
}

// TestUpsertFileSymlink: the link stays a link and its target changes.
func TestUpsertFileSymlink(t *testing.T) {
	dir := t.TempDir()
	target, link := filepath.Join(dir, "real"), filepath.Join(dir, "link")
	if err := os.WriteFile(target, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, link); err != nil {
		t.Skip("no symlinks:", err)
	}
	if err := UpsertFile(link, "alice", "example.com", "pw"); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&fs.ModeSymlink == 0 {
		t.Error("link replaced by a file")
	}
	if got, _ := os.ReadFile(target); string(got) != string(AppendEntry(nil, "alice", "example.com", "pw")) {
		t.Errorf("target = %q", got)
	}
}

func ptr(s string) *string { return &s }
