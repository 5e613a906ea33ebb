package digest

import (
	"bufio"
	"bytes"
	"crypto/md5"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// Credentials is the user store, read from an Apache htdigest file: one
// "user:realm:HA1" line per user and realm, HA1 being 32 hex digits.
// The relay never sees a password. It is read-only after loading and so
// safe for concurrent use; to change users, load a new one and swap it in.
// A nil or zero Credentials knows no users.
type Credentials struct {
	// realms maps realm, then user, to the lower-case hex HA1. Two levels
	// so Lookup can index with m[string(b)] on the caller's bytes and
	// never build a key.
	realms map[string]map[string][32]byte
	n      int
}

// LoadCredentials reads an htdigest file (see ParseCredentials).
func LoadCredentials(path string) (*Credentials, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	c, err := ParseCredentials(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// ParseCredentials reads htdigest lines. Blank lines and lines starting
// with '#' are skipped; blanks and CR around a line are ignored. A line
// that is not user:realm:HA1 with a non-empty user and realm and a 32-digit
// hex HA1, or that repeats a user in a realm (which one would win is a
// guess), is an error naming the line number. The error never quotes the
// line, which holds a password hash.
func ParseCredentials(r io.Reader) (*Credentials, error) {
	c := &Credentials{realms: make(map[string]map[string][32]byte)}
	sc := bufio.NewScanner(r)
	line := 0
	for sc.Scan() {
		line++
		e, err := parseLine(sc.Bytes())
		if err != nil {
			return nil, fmt.Errorf("htdigest line %d: %w", line, err)
		}
		if !e.ok {
			continue
		}
		users := c.realms[string(e.realm)]
		if users == nil {
			users = make(map[string][32]byte)
			c.realms[string(e.realm)] = users
		}
		if _, dup := users[string(e.user)]; dup {
			return nil, fmt.Errorf("htdigest line %d: user %q appears twice in realm %q", line, e.user, e.realm)
		}
		users[string(e.user)] = e.ha1
		c.n++
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("htdigest line %d: %w", line+1, err)
	}
	return c, nil
}

// entry is one parsed htdigest line; ok is false for a blank or comment.
type entry struct {
	user, realm []byte
	ha1         [32]byte
	ok          bool
}

var errLineFormat = errors.New("want user:realm:HA1")

func parseLine(b []byte) (entry, error) {
	b = bytes.Trim(b, " \t\r\n")
	if len(b) == 0 || b[0] == '#' {
		return entry{}, nil
	}
	// The user name cannot hold ':' and the HA1 is hex, so the first and
	// last colons split the line whatever the realm holds.
	i, j := bytes.IndexByte(b, ':'), bytes.LastIndexByte(b, ':')
	if i < 0 || i == j {
		return entry{}, errLineFormat
	}
	e := entry{user: b[:i], realm: b[i+1 : j], ok: true}
	switch hash := b[j+1:]; {
	case len(e.user) == 0:
		return entry{}, errors.New("empty user name")
	case len(e.realm) == 0:
		return entry{}, errors.New("empty realm")
	case len(hash) != len(e.ha1) || !lowerHex(e.ha1[:], hash):
		return entry{}, errors.New("HA1 is not 32 hex digits")
	}
	return e, nil
}

// Lookup returns the HA1 (lower-case hex) of user in realm. Both are
// compared byte for byte: user names are case-sensitive. It allocates
// nothing.
func (c *Credentials) Lookup(user, realm []byte) (ha1 [32]byte, ok bool) {
	if c == nil {
		return ha1, false
	}
	ha1, ok = c.realms[string(realm)][string(user)]
	return ha1, ok
}

// Len is the number of user and realm pairs.
func (c *Credentials) Len() int {
	if c == nil {
		return 0
	}
	return c.n
}

// AppendEntry writes the htdigest line "user:realm:HA1\n". It does not
// check the names; UpsertFile does.
func AppendEntry(dst []byte, user, realm, password string) []byte {
	dst = append(dst, user...)
	dst = append(dst, ':')
	dst = append(dst, realm...)
	dst = append(dst, ':')
	dst = append(dst, HA1(user, realm, password)...)
	return append(dst, '\n')
}

// UpsertFile sets the password of user in realm in the htdigest file at
// path (`msrprelay passwd`): it replaces that user's line, or adds one at
// the end, and keeps every other line as it was. The file is replaced
// atomically (temporary file, then rename) so a running relay never loads
// half of it; a new file gets mode 0600, an existing one keeps its mode. A
// file that does not parse is left alone and the error names the line.
// Two concurrent UpsertFile calls on one file may lose one update.
func UpsertFile(path, user, realm, password string) error {
	if err := checkNames(user, realm); err != nil {
		return err
	}
	// Write through a symlink rather than replace it with a file.
	if target, err := filepath.EvalSymlinks(path); err == nil {
		path = target
	}
	mode := fs.FileMode(0o600)
	old, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return err
	default:
		if fi, err := os.Stat(path); err == nil {
			mode = fi.Mode().Perm()
		}
		if _, err := ParseCredentials(bytes.NewReader(old)); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
	}
	return writeAtomic(path, upsert(old, user, realm, password), mode)
}

// upsert returns the file content old with user's line in realm replaced
// or added.
func upsert(old []byte, user, realm, password string) []byte {
	out := make([]byte, 0, len(old)+len(user)+len(realm)+2*md5.Size+3)
	replaced := false
	for rest := old; len(rest) > 0; {
		line := rest
		if i := bytes.IndexByte(rest, '\n'); i >= 0 {
			line, rest = rest[:i+1], rest[i+1:]
		} else {
			rest = nil
		}
		if e, _ := parseLine(line); e.ok && string(e.user) == user && string(e.realm) == realm {
			out = AppendEntry(out, user, realm, password)
			replaced = true
			continue
		}
		out = append(out, line...)
	}
	if !replaced {
		if len(out) > 0 && out[len(out)-1] != '\n' {
			out = append(out, '\n')
		}
		out = AppendEntry(out, user, realm, password)
	}
	return out
}

// checkNames refuses names that would not read back as written: a ':' in
// the user, a leading '#' or blank (comment, trimmed), control characters.
func checkNames(user, realm string) error {
	switch {
	case user == "":
		return errors.New("digest: empty user name")
	case realm == "":
		return errors.New("digest: empty realm")
	case user[0] == '#' || user[0] == ' ' || user[0] == '\t':
		return fmt.Errorf("digest: user name %q starts with %q", user, user[0])
	}
	for _, c := range []byte(user) {
		if c == ':' || c < 0x20 || c == 0x7f {
			return fmt.Errorf("digest: user name %q holds %q", user, c)
		}
	}
	for _, c := range []byte(realm) {
		if c < 0x20 || c == 0x7f {
			return fmt.Errorf("digest: realm %q holds %q", realm, c)
		}
	}
	return nil
}

// writeAtomic replaces path with data: a reader sees the old file or the
// new one, never a mix.
func writeAtomic(path string, data []byte, mode fs.FileMode) (err error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if err = f.Chmod(mode); err != nil {
		return err
	}
	if _, err = f.Write(data); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	if err = os.Rename(f.Name(), path); err != nil {
		return err
	}
	// Make the rename itself durable; not every system can sync a
	// directory, and the file is in place either way.
	if d, derr := os.Open(filepath.Dir(path)); derr == nil {
		d.Sync()
		d.Close()
	}
	return nil
}
