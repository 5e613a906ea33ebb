package digest

import (
	"bytes"
	"crypto/md5"
	"crypto/subtle"
	"encoding/hex"
	"time"

	"github.com/msrprelay/msrprelay/codec"
)

// hashBufSize is the stack room for what MD5 hashes. An AUTH's nonce,
// cnonce and URI fit with plenty to spare; longer input still works, it
// just moves to the heap.
const hashBufSize = 256

// HA1 returns hex(md5(user:realm:password)), the secret an htdigest file
// stores in place of the password.
func HA1(user, realm, password string) string {
	var buf [hashBufSize]byte
	b := append(buf[:0], user...)
	b = append(b, ':')
	b = append(b, realm...)
	b = append(b, ':')
	b = append(b, password...)
	sum := md5.Sum(b)
	return hex.EncodeToString(sum[:])
}

// Response returns the lower-case hex of
// md5(HA1:nonce:nc:cnonce:qop:hex(md5(method:uri))).
// method is "AUTH" for the request digest an Authorization carries and
// empty for the rspauth of Authentication-Info (RFC 2617 §3.2.3), whose
// HA2 is md5(":" uri). It allocates nothing, so the relay can run it on
// every AUTH.
func Response(ha1, method, uri, nonce, nc, cnonce, qop []byte) [32]byte {
	var buf [hashBufSize]byte
	b := append(buf[:0], method...)
	b = append(b, ':')
	b = append(b, uri...)
	ha2 := md5.Sum(b)

	b = append(buf[:0], ha1...)
	for _, p := range [...][]byte{nonce, nc, cnonce, qop} {
		b = append(b, ':')
		b = append(b, p...)
	}
	b = append(b, ':')
	b = hex.AppendEncode(b, ha2[:])
	sum := md5.Sum(b)

	var out [32]byte
	hex.Encode(out[:], sum[:])
	return out
}

// ClientResponse is Response for a client (msrpclient, the load tool):
// qop auth, method AUTH, from the password rather than a stored HA1.
func ClientResponse(user, realm, password, uri, nonce, nc, cnonce string) string {
	ha1 := HA1(user, realm, password)
	r := Response([]byte(ha1), []byte("AUTH"), []byte(uri), []byte(nonce), []byte(nc), []byte(cnonce), []byte("auth"))
	return string(r[:])
}

// Verdict is the outcome of Verify. The caller maps it to an answer:
// OK to 200, Stale and BadNonce to a 401 with a fresh challenge (Stale with
// stale=TRUE), UnknownUser and BadPassword to 401 or 403 and a failure
// count, Malformed to 400.
type Verdict int

const (
	// VerdictMalformed comes first so that a zero Result never reads as
	// success: the Authorization breaks the rules of RFC 4976 §9.1 (no
	// username, qop other than auth, a bad nc, cnonce or response, an
	// algorithm other than MD5, or a uri= that is not the To-Path URI).
	VerdictMalformed Verdict = iota
	// VerdictOK: the response is right for a nonce this relay issued to
	// this connection in this realm less than the TTL ago.
	VerdictOK
	// VerdictStale: everything was right but the nonce has expired; the
	// client can retry with the same password (RFC 2617 stale=TRUE).
	VerdictStale
	// VerdictBadNonce: the Authorization answers no challenge of ours on
	// this connection (another connection's or realm's nonce, a forged
	// one, another realm or opaque). Re-challenge.
	VerdictBadNonce
	// VerdictUnknownUser: no such user in the realm.
	VerdictUnknownUser
	// VerdictBadPassword: the user exists and the response is wrong.
	VerdictBadPassword
)

var verdictNames = [...]string{"malformed", "ok", "stale", "bad nonce", "unknown user", "bad password"}

func (v Verdict) String() string {
	if v < 0 || int(v) >= len(verdictNames) {
		return "invalid verdict"
	}
	return verdictNames[v]
}

// Result is what Verify found.
type Result struct {
	Verdict Verdict
	// NC is the nonce count the client sent, valid unless the verdict is
	// Malformed. A nonce can be reused within its TTL, so the caller must
	// refuse an nc it has already seen for that nonce.
	NC uint32
	// RspAuth is the rspauth for Authentication-Info, set only for
	// VerdictOK.
	RspAuth [32]byte
}

// Verify checks an AUTH's Authorization, already parsed by
// codec.ParseDigest, against the credential store and this relay's
// nonces. realm is the realm the relay challenged with; uri is the
// rightmost To-Path URI of the AUTH as sent, the one HA2 is computed over.
// d.URI, when present, must equal it byte for byte: RFC 4976 clients send
// no uri=, some others do. d.Opaque, when present, must be ours: msrplib
// echoes it, RFC clients may omit it. A nil creds knows no users.
//
// It allocates nothing. Values with backslash escapes are unescaped on the
// stack; an escaped Authorization too long for that is Malformed.
func (n *Nonces) Verify(creds *Credentials, d *codec.Digest, realm, uri []byte, connID uint64, now time.Time) Result {
	var ubuf [hashBufSize]byte
	p, want, res, ok := checkSyntax(d, uri, ubuf[:0])
	if !ok {
		return res
	}
	ha1, known := creds.Lookup(p.username, realm)
	return n.verify(&p, &want, res, ha1, known, realm, uri, connID, now)
}

// UserName is the user an Authorization names, with escapes resolved into
// buf, for a store that must be asked before VerifyHA1 can run. ok is
// false when Verify would find the Authorization malformed: such an AUTH
// is answered without asking any store.
func UserName(d *codec.Digest, uri, buf []byte) (user []byte, ok bool) {
	p, _, _, ok := checkSyntax(d, uri, buf)
	return p.username, ok
}

// VerifyHA1 is Verify for a secret looked up elsewhere (a database): ha1
// is the user's HA1 in realm, known false when there is no such user.
func (n *Nonces) VerifyHA1(ha1 [32]byte, known bool, d *codec.Digest, realm, uri []byte, connID uint64, now time.Time) Result {
	var ubuf [hashBufSize]byte
	p, want, res, ok := checkSyntax(d, uri, ubuf[:0])
	if !ok {
		return res
	}
	return n.verify(&p, &want, res, ha1, known, realm, uri, connID, now)
}

// checkSyntax applies the rules of RFC 4976 §9.1 to an Authorization;
// want is the response it carries, in lower case. On failure res is the
// Malformed result.
func checkSyntax(d *codec.Digest, uri, buf []byte) (p params, want [32]byte, res Result, ok bool) {
	p, ok = unquote(d, buf)
	if !ok {
		return p, want, Result{Verdict: VerdictMalformed}, false
	}
	nc, ok := parseNC(p.nc)
	if !ok || len(p.username) == 0 || len(p.cnonce) == 0 || len(p.nonce) == 0 ||
		!equalFold(p.qop, "auth") || len(p.response) != 32 ||
		(p.algorithm != nil && !equalFold(p.algorithm, "md5")) ||
		(p.uri != nil && !bytes.Equal(p.uri, uri)) {
		return p, want, Result{Verdict: VerdictMalformed}, false
	}
	if !lowerHex(want[:], p.response) {
		return p, want, Result{Verdict: VerdictMalformed}, false
	}
	return p, want, Result{NC: nc}, true
}

// verify decides the verdict of a well-formed Authorization given the
// user's secret.
func (n *Nonces) verify(p *params, want *[32]byte, res Result, ha1 [32]byte, known bool, realm, uri []byte, connID uint64, now time.Time) Result {
	// An answer for another realm or with another opaque answers no
	// challenge of ours: re-challenge rather than count a failure.
	if !bytes.Equal(p.realm, realm) {
		res.Verdict = VerdictBadNonce
		return res
	}
	if p.opaque != nil {
		var ours [32]byte
		if !bytes.Equal(p.opaque, n.AppendOpaque(ours[:0], realm)) {
			res.Verdict = VerdictBadNonce
			return res
		}
	}
	status := n.Check(p.nonce, connID, realm, now)

	// Hash even for an unknown user so that timing does not tell which
	// user names exist.
	got := Response(ha1[:], []byte("AUTH"), uri, p.nonce, p.nc, p.cnonce, p.qop)
	match := subtle.ConstantTimeCompare(got[:], want[:]) == 1
	switch {
	case !known:
		res.Verdict = VerdictUnknownUser
	case status == NonceBad && match:
		// RFC 2617 §3.2.1: stale=TRUE for a nonce that is invalid "but
		// with a valid digest for that nonce": a nonce issued on another
		// connection, or forgotten; the client retries without asking its
		// user again.
		res.Verdict = VerdictStale
	case status == NonceBad:
		res.Verdict = VerdictBadNonce
	case !match:
		// RFC 2617 §3.2.1: stale only when the digest was right, so a
		// wrong password on an old nonce is a wrong password.
		res.Verdict = VerdictBadPassword
	case status == NonceStale:
		res.Verdict = VerdictStale
	default:
		res.Verdict = VerdictOK
		res.RspAuth = Response(ha1[:], nil, uri, p.nonce, p.nc, p.cnonce, p.qop)
	}
	return res
}

// params are the Digest values Verify uses, with escapes resolved, in
// the order unquote fills them.
type params struct {
	username, realm, nonce, uri, qop, nc, cnonce, response, opaque, algorithm []byte
}

// unquote returns d's values with backslash escapes resolved into buf
// when the codec saw any: RFC 2617 hashes the unquoted values. It fails
// only on escaped values too long for buf, which no honest client sends.
func unquote(d *codec.Digest, buf []byte) (p params, ok bool) {
	// An array, not pointers to p's fields: a store through a pointer
	// would move buf to the heap.
	v := [...][]byte{d.Username, d.Realm, d.Nonce, d.URI, d.QOP, d.NC, d.CNonce, d.Response, d.Opaque, d.Algorithm}
	if d.Escaped {
		for i, f := range v {
			if bytes.IndexByte(f, '\\') < 0 {
				continue
			}
			if len(buf)+len(f) > cap(buf) {
				return p, false
			}
			start := len(buf)
			buf = codec.AppendUnescaped(buf, f)
			v[i] = buf[start:len(buf):len(buf)]
		}
	}
	return params{v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], v[9]}, true
}

// parseNC reads the nonce count: exactly 8 hex digits (RFC 2617 nc-value).
func parseNC(b []byte) (uint32, bool) {
	if len(b) != 8 {
		return 0, false
	}
	var v uint32
	for _, c := range b {
		d, ok := unhex(c)
		if !ok {
			return 0, false
		}
		v = v<<4 | uint32(d)
	}
	return v, true
}

// lowerHex copies the hex digits of src into dst in lower case, failing on
// a non-hex byte: a client that upper-cases its response still matches.
func lowerHex(dst, src []byte) bool {
	for i, c := range src {
		if _, ok := unhex(c); !ok {
			return false
		}
		if 'A' <= c && c <= 'F' {
			c += 'a' - 'A'
		}
		dst[i] = c
	}
	return true
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// equalFold compares b with an ASCII lower-case token, ignoring case.
func equalFold(b []byte, lower string) bool {
	if len(b) != len(lower) {
		return false
	}
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}
