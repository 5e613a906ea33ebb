package digest

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"time"
)

const (
	// defaultNonceTTL is how long a nonce stays fresh when no TTL is
	// given. An AUTH exchange takes one round trip, so five minutes
	// is ample and bounds how long a captured nonce is worth anything.
	defaultNonceTTL = 5 * time.Minute
	// maxClockSkew is how far in the future an issue time may lie before
	// the nonce counts as stale: a relay whose clock steps back must not
	// reject its own fresh nonces.
	maxClockSkew = time.Minute

	nonceRawLen = 8 + 8 + nonceMACLen // issue time | connection id | MAC
	nonceMACLen = 16
	// nonceLen is the length of every nonce Append writes (43).
	nonceLen = (nonceRawLen*8 + 5) / 6
	// opaqueLen is the length of the value AppendOpaque writes.
	opaqueLen = 2 * 16

	// macBufSize is the stack room for HMAC's inner message: the pad, the
	// time and connection id, and a realm of up to 176 bytes. A longer
	// realm works but costs a heap allocation.
	macBufSize = sha256.BlockSize + 16 + 176
)

// nonceEncoding is strict so that one nonce has exactly one spelling.
var nonceEncoding = base64.RawURLEncoding.Strict()

// NonceStatus is the result of Nonces.Check.
type NonceStatus int

const (
	// NonceBad is zero so that an unset status never passes: malformed,
	// forged, or issued to another connection or realm.
	NonceBad NonceStatus = iota
	// NonceOK: issued by us, to this connection and realm, within the TTL.
	NonceOK
	// NonceStale: issued by us, to this connection and realm, but older
	// than the TTL or more than a minute in the future.
	NonceStale
)

func (s NonceStatus) String() string {
	switch s {
	case NonceOK:
		return "ok"
	case NonceStale:
		return "stale"
	}
	return "bad"
}

// Nonces issues and checks digest nonces and the opaque value. It keeps no
// state per nonce: a nonce is
//
//	base64url-no-padding(issue unix-nanos (8 bytes, big endian) |
//	    connection id (8 bytes) | HMAC-SHA256(key, those 16 bytes | realm)[:16])
//
// so it is good only for the connection and realm it was issued for, and
// only within the TTL. A Nonces is safe for concurrent use; make one with
// NewNonces (its zero value has no key and panics).
type Nonces struct {
	// ipad and opad are the key XOR the HMAC pads (RFC 2104), computed
	// once so that a MAC costs two SHA-256 runs over stack buffers.
	ipad, opad [sha256.BlockSize]byte
	ttl        time.Duration
	keyed      bool
}

// NewNonces makes a Nonces with a random key, so nonces do not survive a
// restart (clients get a fresh challenge). ttl <= 0 means 5 minutes.
func NewNonces(ttl time.Duration) *Nonces {
	var key [32]byte
	rand.Read(key[:]) // never fails (crypto/rand, Go 1.24+)
	return NewNoncesWithKey(key[:], ttl)
}

// NewNoncesWithKey makes a Nonces with a given key, for tests and for
// relays that share nonces. ttl <= 0 means 5 minutes.
func NewNoncesWithKey(key []byte, ttl time.Duration) *Nonces {
	if ttl <= 0 {
		ttl = defaultNonceTTL
	}
	n := &Nonces{ttl: ttl, keyed: true}
	if len(key) > sha256.BlockSize {
		sum := sha256.Sum256(key)
		key = sum[:]
	}
	copy(n.ipad[:], key)
	copy(n.opad[:], key)
	for i := range n.ipad {
		n.ipad[i] ^= 0x36
		n.opad[i] ^= 0x5c
	}
	return n
}

// Append writes a fresh nonce (43 bytes) for connID and realm,
// issued at now. It allocates only if dst lacks room.
func (n *Nonces) Append(dst []byte, connID uint64, realm []byte, now time.Time) []byte {
	var raw [nonceRawLen]byte
	binary.BigEndian.PutUint64(raw[0:8], uint64(now.UnixNano()))
	binary.BigEndian.PutUint64(raw[8:16], connID)
	mac := n.mac(raw[:16], realm)
	copy(raw[16:], mac[:nonceMACLen])
	return nonceEncoding.AppendEncode(dst, raw[:])
}

// Check says whether nonce is one Append made for connID and realm, and
// whether it is still fresh at now. The MAC is compared in constant time.
// It allocates nothing.
func (n *Nonces) Check(nonce []byte, connID uint64, realm []byte, now time.Time) NonceStatus {
	var raw [nonceRawLen]byte
	if len(nonce) != nonceLen {
		return NonceBad
	}
	// Decode skips CR and LF, so a short result means junk in the nonce.
	if k, err := nonceEncoding.Decode(raw[:], nonce); err != nil || k != nonceRawLen {
		return NonceBad
	}
	// The connection id is public (the MAC covers it), so a plain
	// compare is fine; skipping it would accept a nonce whose id bytes
	// were altered.
	if binary.BigEndian.Uint64(raw[8:16]) != connID {
		return NonceBad
	}
	mac := n.mac(raw[:16], realm)
	if subtle.ConstantTimeCompare(mac[:nonceMACLen], raw[16:]) != 1 {
		return NonceBad
	}
	age := now.UnixNano() - int64(binary.BigEndian.Uint64(raw[:8]))
	if age > int64(n.ttl) || age < -int64(maxClockSkew) {
		return NonceStale
	}
	return NonceOK
}

// AppendOpaque writes the opaque value (32 hex digits) the relay
// puts in every challenge for realm: python msrplib refuses a challenge
// without one and echoes it back. It is fixed per key and realm, so Verify
// can check it without state.
func (n *Nonces) AppendOpaque(dst []byte, realm []byte) []byte {
	mac := n.mac([]byte("opaque"), realm)
	return hex.AppendEncode(dst, mac[:16])
}

// mac returns HMAC-SHA256(key, head|realm) (RFC 2104), written out over
// the precomputed pads because crypto/hmac allocates a hash per use.
func (n *Nonces) mac(head, realm []byte) [sha256.Size]byte {
	if !n.keyed {
		panic("digest: Nonces used without NewNonces")
	}
	var buf [macBufSize]byte
	b := append(buf[:0], n.ipad[:]...)
	b = append(b, head...)
	b = append(b, realm...)
	inner := sha256.Sum256(b)

	var outer [sha256.BlockSize + sha256.Size]byte
	copy(outer[:], n.opad[:])
	copy(outer[sha256.BlockSize:], inner[:])
	return sha256.Sum256(outer[:])
}
