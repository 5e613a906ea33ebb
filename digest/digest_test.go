package digest

import (
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/msrprelay/msrprelay/codec"
)

// The brief's vector (RFC 4976 style AUTH; nonce is not one of ours).
const (
	vUser     = "alice"
	vRealm    = "example.com"
	vPassword = "1234"
	vURI      = "msrps://example.com:2855;tcp"
	vNonce    = "MDEyMzQ1Njc4OWFiY2RlZjE3MDAwMDAwMDAuMDAwOjE5Mi4wLjIuMTA="
	vCNonce   = "00112233445566778899aabbccddeeff"
	vNC       = "00000001"
	vHA1      = "fd7cab2287702c763e7b318b7fb2451a"
	vHA2      = "db4b577b87329dbf198abaac1d0dcf40"
	vResponse = "6720dcdccb2300a021c6a7bf8b323407"
	vRspAuth  = "84d5698b3898ead8327aee2ace6f3da1"
)

func TestVector(t *testing.T) {
	if got := HA1(vUser, vRealm, vPassword); got != vHA1 {
		t.Errorf("HA1 = %s, want %s", got, vHA1)
	}
	// Response hides HA2; check the vector's HA2 and that the request
	// digest is built on it.
	ha2 := md5.Sum([]byte("AUTH:" + vURI))
	if got := hex.EncodeToString(ha2[:]); got != vHA2 {
		t.Errorf("md5(AUTH:uri) = %s, want %s", got, vHA2)
	}
	byHand := md5.Sum([]byte(vHA1 + ":" + vNonce + ":" + vNC + ":" + vCNonce + ":auth:" + vHA2))
	if got := hex.EncodeToString(byHand[:]); got != vResponse {
		t.Errorf("md5(HA1:nonce:nc:cnonce:qop:HA2) = %s, want %s", got, vResponse)
	}
	for _, tc := range []struct {
		name, method, want string
	}{
		{"request digest", "AUTH", vResponse},
		{"rspauth", "", vRspAuth},
	} {
		got := Response([]byte(vHA1), []byte(tc.method), []byte(vURI), []byte(vNonce), []byte(vNC), []byte(vCNonce), []byte("auth"))
		if string(got[:]) != tc.want {
			t.Errorf("%s: Response = %s, want %s", tc.name, got, tc.want)
		}
	}
	if got := ClientResponse(vUser, vRealm, vPassword, vURI, vNonce, vNC, vCNonce); got != vResponse {
		t.Errorf("ClientResponse = %s, want %s", got, vResponse)
	}
}

// auth describes an Authorization a client sends; header renders it the
// way clients do and the codec parses it, so Verify is tested on what the
// engine will hand it.
type auth struct {
	user, realm, password, nonce, nc, cnonce string

	qop       string // sent unquoted; quote it in the value to send it quoted
	uri       string // the digest-uri the client hashes over
	sendURI   string // uri= parameter; empty means none
	opaque    string // empty means none
	algorithm string // empty means none
	response  string // overrides the computed response when set
}

func (a auth) header() string {
	resp := a.response
	if resp == "" {
		ha1 := HA1(a.user, a.realm, a.password)
		r := Response([]byte(ha1), []byte("AUTH"), []byte(a.uri), []byte(a.nonce), []byte(a.nc), []byte(a.cnonce), []byte(a.qop))
		resp = string(r[:])
	}
	h := fmt.Sprintf(`Digest username="%s", realm="%s", nonce="%s", qop=%s, nc="%s", cnonce="%s", response="%s"`,
		a.user, a.realm, a.nonce, a.qop, a.nc, a.cnonce, resp)
	if a.sendURI != "" {
		h += fmt.Sprintf(`, uri="%s"`, a.sendURI)
	}
	if a.opaque != "" {
		h += fmt.Sprintf(`, opaque="%s"`, a.opaque)
	}
	if a.algorithm != "" {
		h += ", algorithm=" + a.algorithm
	}
	return h
}

var testKey = []byte("0123456789abcdef0123456789abcdef")

// t0 is when the test nonces are issued.
var t0 = time.Unix(1_700_000_000, 123)

func testCreds(t testing.TB) *Credentials {
	t.Helper()
	c, err := LoadCredentials("testdata/htdigest")
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestVerify(t *testing.T) {
	const conn = 42
	n := NewNoncesWithKey(testKey, 0)
	creds := testCreds(t)
	nonce := string(n.Append(nil, conn, []byte(vRealm), t0))
	opaque := string(n.AppendOpaque(nil, []byte(vRealm)))
	good := auth{user: vUser, realm: vRealm, password: vPassword, nonce: nonce, nc: vNC,
		cnonce: vCNonce, qop: "auth", uri: vURI}

	tests := []struct {
		name   string
		edit   func(a *auth)
		now    time.Time
		conn   uint64
		want   Verdict
		wantNC uint32
	}{
		{name: "ok, RFC client (no uri, no opaque)", want: VerdictOK, wantNC: 1},
		{name: "ok with uri=", edit: func(a *auth) { a.sendURI = vURI }, want: VerdictOK, wantNC: 1},
		{name: "ok with opaque (msrplib)", edit: func(a *auth) { a.opaque = opaque }, want: VerdictOK, wantNC: 1},
		{name: "ok with uri= and opaque", edit: func(a *auth) { a.sendURI, a.opaque = vURI, opaque }, want: VerdictOK, wantNC: 1},
		{name: "ok, algorithm=MD5", edit: func(a *auth) { a.algorithm = "MD5" }, want: VerdictOK, wantNC: 1},
		{name: "ok, nc=0000002a", edit: func(a *auth) { a.nc = "0000002a" }, want: VerdictOK, wantNC: 42},
		{name: "ok, upper-case response", edit: func(a *auth) {
			r := Response([]byte(vHA1), []byte("AUTH"), []byte(vURI), []byte(nonce), []byte(vNC), []byte(vCNonce), []byte("auth"))
			a.response = strings.ToUpper(string(r[:]))
		}, want: VerdictOK, wantNC: 1},
		{name: "ok just before TTL", now: t0.Add(defaultNonceTTL), want: VerdictOK, wantNC: 1},
		{name: "ok, issued up to a minute ahead", now: t0.Add(-maxClockSkew), want: VerdictOK, wantNC: 1},
		{name: "stale past TTL", now: t0.Add(defaultNonceTTL + time.Nanosecond), want: VerdictStale, wantNC: 1},
		{name: "stale from the future", now: t0.Add(-maxClockSkew - time.Nanosecond), want: VerdictStale, wantNC: 1},
		{name: "stale nonce, wrong password", edit: func(a *auth) { a.password = "4321" }, now: t0.Add(time.Hour), want: VerdictBadPassword, wantNC: 1},
		{name: "nonce of another connection", conn: conn + 1, want: VerdictStale, wantNC: 1},
		{name: "nonce of another realm", edit: func(a *auth) {
			a.nonce = string(n.Append(nil, conn, []byte("example.org"), t0))
		}, want: VerdictStale, wantNC: 1},
		{name: "tampered nonce", edit: func(a *auth) { a.nonce = flip(a.nonce, 5) }, want: VerdictStale, wantNC: 1},
		{name: "foreign nonce", edit: func(a *auth) { a.nonce = vNonce }, want: VerdictStale, wantNC: 1},
		{name: "nonce from another key", edit: func(a *auth) {
			a.nonce = string(NewNonces(0).Append(nil, conn, []byte(vRealm), t0))
		}, want: VerdictStale, wantNC: 1},
		// A nonce that is not (or no longer) valid for this connection,
		// with a digest right for it, is stale (RFC 2617 §3.2.1); with a
		// wrong digest it answers no challenge.
		{name: "nonce of another connection, wrong password", conn: conn + 1, edit: func(a *auth) { a.password = "4321" }, want: VerdictBadNonce, wantNC: 1},
		{name: "tampered nonce, unknown user", edit: func(a *auth) { a.nonce, a.user = flip(a.nonce, 5), "mallory" }, want: VerdictUnknownUser, wantNC: 1},
		{name: "other realm", edit: func(a *auth) { a.realm = "example.org" }, want: VerdictBadNonce, wantNC: 1},
		{name: "realm differs in case", edit: func(a *auth) { a.realm = "Example.com" }, want: VerdictBadNonce, wantNC: 1},
		{name: "wrong opaque", edit: func(a *auth) { a.opaque = flip(opaque, 0) }, want: VerdictBadNonce, wantNC: 1},
		{name: "wrong password", edit: func(a *auth) { a.password = "4321" }, want: VerdictBadPassword, wantNC: 1},
		{name: "unknown user", edit: func(a *auth) { a.user = "mallory" }, want: VerdictUnknownUser, wantNC: 1},
		{name: "user name is case-sensitive", edit: func(a *auth) { a.user = "Alice" }, want: VerdictUnknownUser, wantNC: 1},
		{name: "hashed over another uri", edit: func(a *auth) { a.uri = "msrps://other.example.com:2855;tcp" }, want: VerdictBadPassword, wantNC: 1},
		{name: "uri= mismatching", edit: func(a *auth) { a.sendURI = "msrps://other.example.com:2855;tcp" }, want: VerdictMalformed},
		{name: "uri= differs in case", edit: func(a *auth) { a.sendURI = strings.ToUpper(vURI) }, want: VerdictMalformed},
		{name: "qop auth-int", edit: func(a *auth) { a.qop = "auth-int" }, want: VerdictMalformed},
		{name: "no qop", edit: func(a *auth) { a.qop = `""` }, want: VerdictMalformed},
		{name: "algorithm MD5-sess", edit: func(a *auth) { a.algorithm = "MD5-sess" }, want: VerdictMalformed},
		{name: "nc too short", edit: func(a *auth) { a.nc = "0000001" }, want: VerdictMalformed},
		{name: "nc too long", edit: func(a *auth) { a.nc = "000000001" }, want: VerdictMalformed},
		{name: "nc not hex", edit: func(a *auth) { a.nc = "0000000g" }, want: VerdictMalformed},
		{name: "no cnonce", edit: func(a *auth) { a.cnonce = "" }, want: VerdictMalformed},
		{name: "no username", edit: func(a *auth) { a.user = "" }, want: VerdictMalformed},
		{name: "no nonce", edit: func(a *auth) { a.nonce = "" }, want: VerdictMalformed},
		{name: "short response", edit: func(a *auth) { a.response = "6720dcdc" }, want: VerdictMalformed},
		{name: "response not hex", edit: func(a *auth) { a.response = strings.Repeat("z", 32) }, want: VerdictMalformed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := good
			if tc.edit != nil {
				tc.edit(&a)
			}
			now, c := tc.now, tc.conn
			if now.IsZero() {
				now = t0.Add(time.Second)
			}
			if c == 0 {
				c = conn
			}
			var d codec.Digest
			if err := codec.ParseDigest([]byte(a.header()), &d); err != nil {
				t.Fatalf("ParseDigest(%s): %v", a.header(), err)
			}
			res := n.Verify(creds, &d, []byte(vRealm), []byte(vURI), c, now)
			if res.Verdict != tc.want || res.NC != tc.wantNC {
				t.Fatalf("Verify = %v nc %d, want %v nc %d", res.Verdict, res.NC, tc.want, tc.wantNC)
			}
			// A store asked for UserName's user, then VerifyHA1, decides
			// as Verify does with the file.
			user, ok := UserName(&d, []byte(vURI), nil)
			if ok != (tc.want != VerdictMalformed) || (ok && string(user) != a.user) {
				t.Fatalf("UserName = %q %v for %v", user, ok, tc.want)
			}
			ha1, known := creds.Lookup(user, []byte(vRealm))
			if got := n.VerifyHA1(ha1, known, &d, []byte(vRealm), []byte(vURI), c, now); got != res {
				t.Fatalf("VerifyHA1 = %+v, Verify = %+v", got, res)
			}
			var wantRsp [32]byte
			if tc.want == VerdictOK {
				wantRsp = Response([]byte(vHA1), nil, []byte(vURI), []byte(a.nonce), []byte(a.nc), []byte(a.cnonce), []byte(a.qop))
			}
			if res.RspAuth != wantRsp {
				t.Errorf("RspAuth = %q, want %q", res.RspAuth, wantRsp)
			}
		})
	}
}

// TestVerifyEscaped: RFC 2617 hashes unquoted values, so a quoted value
// with a needless escape must verify the same as without it.
func TestVerifyEscaped(t *testing.T) {
	const conn = 7
	n := NewNoncesWithKey(testKey, 0)
	nonce := string(n.Append(nil, conn, []byte(vRealm), t0))
	resp := ClientResponse(vUser, vRealm, vPassword, vURI, nonce, vNC, vCNonce)
	for _, tc := range []struct {
		name, header string
		want         Verdict
	}{
		{"escaped user and cnonce", fmt.Sprintf(`Digest username="al\ice", realm="example.com", nonce="%s", qop=auth, nc=00000001, cnonce="0011\2233445566778899aabbccddeeff", response="%s"`, nonce, resp), VerdictOK},
		{"escaped realm", fmt.Sprintf(`Digest username="alice", realm="example\.com", nonce="%s", qop=auth, nc=00000001, cnonce="%s", response="%s"`, nonce, vCNonce, resp), VerdictOK},
		{"escape too long", fmt.Sprintf(`Digest username="alice", realm="example.com", nonce="%s", qop=auth, nc=00000001, cnonce="\%s", response="%s"`, nonce, strings.Repeat("x", hashBufSize), resp), VerdictMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var d codec.Digest
			if err := codec.ParseDigest([]byte(tc.header), &d); err != nil {
				t.Fatal(err)
			}
			if !d.Escaped {
				t.Fatal("codec did not flag the escape")
			}
			if got := n.Verify(testCreds(t), &d, []byte(vRealm), []byte(vURI), conn, t0); got.Verdict != tc.want {
				t.Errorf("Verify = %v, want %v", got.Verdict, tc.want)
			}
		})
	}
}

func TestVerifyNilCredentials(t *testing.T) {
	n := NewNoncesWithKey(testKey, 0)
	nonce := n.Append(nil, 1, []byte(vRealm), t0)
	d := codec.Digest{Username: []byte(vUser), Realm: []byte(vRealm), Nonce: nonce, QOP: []byte("auth"),
		NC: []byte(vNC), CNonce: []byte(vCNonce), Response: []byte(vResponse)}
	if got := n.Verify(nil, &d, []byte(vRealm), []byte(vURI), 1, t0); got.Verdict != VerdictUnknownUser {
		t.Errorf("Verify(nil creds) = %v, want %v", got.Verdict, VerdictUnknownUser)
	}
	if (Result{}).Verdict == VerdictOK {
		t.Error("zero Result reads as OK")
	}
}

// flip changes the character at i of a base64url or hex string to another
// character valid in both.
func flip(s string, i int) string {
	b := []byte(s)
	if b[i] == '0' {
		b[i] = '1'
	} else {
		b[i] = '0'
	}
	return string(b)
}
