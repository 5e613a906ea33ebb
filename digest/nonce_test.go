package digest

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"testing"
	"time"
)

func TestNonceCheck(t *testing.T) {
	const conn = 99
	realm := []byte(vRealm)
	n := NewNoncesWithKey(testKey, time.Minute)
	nonce := string(n.Append(nil, conn, realm, t0))
	tests := []struct {
		name  string
		nonce string
		conn  uint64
		realm string
		now   time.Time
		want  NonceStatus
	}{
		{"fresh", nonce, conn, vRealm, t0, NonceOK},
		{"at TTL", nonce, conn, vRealm, t0.Add(time.Minute), NonceOK},
		{"past TTL", nonce, conn, vRealm, t0.Add(time.Minute + 1), NonceStale},
		{"a minute ahead", nonce, conn, vRealm, t0.Add(-time.Minute), NonceOK},
		{"further ahead", nonce, conn, vRealm, t0.Add(-time.Minute - 1), NonceStale},
		{"other connection", nonce, conn + 1, vRealm, t0, NonceBad},
		{"other realm", nonce, conn, "example.org", t0, NonceBad},
		{"realm case", nonce, conn, "EXAMPLE.COM", t0, NonceBad},
		{"empty", "", conn, vRealm, t0, NonceBad},
		{"truncated", nonce[:len(nonce)-1], conn, vRealm, t0, NonceBad},
		{"extended", nonce + "A", conn, vRealm, t0, NonceBad},
		{"padded", nonce + "=", conn, vRealm, t0, NonceBad},
		{"std alphabet", nonce[:3] + "+" + nonce[4:], conn, vRealm, t0, NonceBad},
		{"newline inside", nonce[:20] + "\n" + nonce[21:], conn, vRealm, t0, NonceBad},
		{"foreign", vNonce, conn, vRealm, t0, NonceBad},
		{"other key", string(NewNoncesWithKey([]byte("other"), 0).Append(nil, conn, realm, t0)), conn, vRealm, t0, NonceBad},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := n.Check([]byte(tc.nonce), tc.conn, []byte(tc.realm), tc.now); got != tc.want {
				t.Errorf("Check = %v, want %v", got, tc.want)
			}
		})
	}
}

// TestNonceEveryByte: changing any one character, to any other, spoils
// the nonce, and re-dating it (a fresh time with the old MAC) spoils it too.
func TestNonceEveryByte(t *testing.T) {
	n := NewNoncesWithKey(testKey, 0)
	realm := []byte(vRealm)
	nonce := n.Append(nil, 5, realm, t0)
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_=+/. "
	for i := range nonce {
		for _, c := range []byte(alphabet) {
			if c == nonce[i] {
				continue
			}
			b := bytes.Clone(nonce)
			b[i] = c
			if got := n.Check(b, 5, realm, t0); got != NonceBad {
				t.Fatalf("nonce %q with [%d]=%q: %v", b, i, c, got)
			}
		}
	}
	raw, _ := base64.RawURLEncoding.DecodeString(string(nonce))
	binary.BigEndian.PutUint64(raw, uint64(t0.Add(time.Second).UnixNano()))
	if got := n.Check([]byte(base64.RawURLEncoding.EncodeToString(raw)), 5, realm, t0); got != NonceBad {
		t.Errorf("re-dated nonce: %v", got)
	}
}

// TestNonceLayout pins the documented format against crypto/hmac, so the
// hand-rolled HMAC is the real one, for short and long keys and realms.
func TestNonceLayout(t *testing.T) {
	for _, tc := range []struct {
		name       string
		key, realm []byte
	}{
		{"short key", []byte("k"), []byte(vRealm)},
		{"block-size key", bytes.Repeat([]byte{7}, sha256.BlockSize), []byte(vRealm)},
		{"long key", bytes.Repeat([]byte{9}, 3*sha256.BlockSize), []byte(vRealm)},
		{"empty realm", testKey, nil},
		{"long realm (heap path)", testKey, bytes.Repeat([]byte("r"), 1000)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := NewNoncesWithKey(tc.key, 0)
			nonce := n.Append([]byte("prefix:"), 0x0102030405060708, tc.realm, t0)
			if !bytes.HasPrefix(nonce, []byte("prefix:")) {
				t.Fatalf("Append dropped dst: %q", nonce)
			}
			nonce = nonce[len("prefix:"):]
			if len(nonce) != nonceLen {
				t.Fatalf("len %d, want %d", len(nonce), nonceLen)
			}
			raw, err := base64.RawURLEncoding.DecodeString(string(nonce))
			if err != nil {
				t.Fatal(err)
			}
			if got := int64(binary.BigEndian.Uint64(raw)); got != t0.UnixNano() {
				t.Errorf("time %d, want %d", got, t0.UnixNano())
			}
			if got := binary.BigEndian.Uint64(raw[8:]); got != 0x0102030405060708 {
				t.Errorf("conn %x", got)
			}
			m := hmac.New(sha256.New, tc.key)
			m.Write(raw[:16])
			m.Write(tc.realm)
			if want := m.Sum(nil)[:16]; !bytes.Equal(raw[16:], want) {
				t.Errorf("MAC %x, want %x", raw[16:], want)
			}
			if got := n.Check(nonce, 0x0102030405060708, tc.realm, t0); got != NonceOK {
				t.Errorf("Check = %v", got)
			}

			m.Reset()
			m.Write([]byte("opaque"))
			m.Write(tc.realm)
			want := hex.EncodeToString(m.Sum(nil)[:16])
			if got := string(n.AppendOpaque(nil, tc.realm)); got != want || len(got) != opaqueLen {
				t.Errorf("opaque %s, want %s", got, want)
			}
		})
	}
}

func TestNewNonces(t *testing.T) {
	a, b := NewNonces(0), NewNonces(-time.Second)
	if a.ttl != defaultNonceTTL || b.ttl != defaultNonceTTL {
		t.Errorf("ttl %v %v, want default", a.ttl, b.ttl)
	}
	if NewNonces(time.Hour).ttl != time.Hour {
		t.Error("ttl not kept")
	}
	if bytes.Equal(a.AppendOpaque(nil, nil), b.AppendOpaque(nil, nil)) {
		t.Error("two NewNonces share a key")
	}
	if a.Check(b.Append(nil, 1, nil, t0), 1, nil, t0) != NonceBad {
		t.Error("a accepts b's nonce")
	}
	key := []byte("0123456789abcdef")
	c := NewNoncesWithKey(key, 0)
	key[0] = 'x' // the caller's slice is not kept
	if !bytes.Equal(c.Append(nil, 1, nil, t0), NewNoncesWithKey([]byte("0123456789abcdef"), 0).Append(nil, 1, nil, t0)) {
		t.Error("NewNoncesWithKey kept the caller's key slice")
	}
}

func TestZeroNoncesPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("zero Nonces issued a nonce with no key")
		}
	}()
	var n Nonces
	n.Append(nil, 1, nil, t0)
}

// FuzzNonceCheck: Check never panics, and anything it does not call bad
// is exactly what Append writes for that time, connection and realm:
// no second spelling, no forgery.
func FuzzNonceCheck(f *testing.F) {
	n := NewNoncesWithKey(testKey, 0)
	now := t0.Add(time.Second)
	for i, at := range []time.Time{t0, now, t0.Add(-time.Hour), t0.Add(time.Hour)} {
		f.Add(n.Append(nil, uint64(i), []byte(vRealm), at), uint64(i), []byte(vRealm))
	}
	f.Add([]byte(vNonce), uint64(1), []byte(vRealm))
	f.Add([]byte(""), uint64(0), []byte(""))
	f.Fuzz(func(t *testing.T, nonce []byte, conn uint64, realm []byte) {
		st := n.Check(nonce, conn, realm, now)
		if st == NonceBad {
			return
		}
		raw, err := base64.RawURLEncoding.DecodeString(string(nonce))
		if err != nil || len(raw) != 32 {
			t.Fatalf("%v for undecodable %q", st, nonce)
		}
		issued := time.Unix(0, int64(binary.BigEndian.Uint64(raw)))
		if want := n.Append(nil, conn, realm, issued); !bytes.Equal(nonce, want) {
			t.Fatalf("%v for %q, Append gives %q", st, nonce, want)
		}
		wantSt := NonceOK
		if age := now.Sub(issued); age > defaultNonceTTL || age < -maxClockSkew {
			wantSt = NonceStale
		}
		if st != wantSt {
			t.Fatalf("%v, want %v", st, wantSt)
		}
	})
}
