package codec

import (
	"crypto/md5"
	"encoding/hex"
	"testing"
)

// The digest test vector of the brief (RFC 4976 §5.1 style, RFC 2617 math).
const (
	tvNonce    = "MDEyMzQ1Njc4OWFiY2RlZjE3MDAwMDAwMDAuMDAwOjE5Mi4wLjIuMTA="
	tvCNonce   = "00112233445566778899aabbccddeeff"
	tvResponse = "6720dcdccb2300a021c6a7bf8b323407"
)

func md5hex(s string) string {
	h := md5.Sum([]byte(s))
	return hex.EncodeToString(h[:])
}

func TestDigestForms(t *testing.T) {
	forms := map[string]string{
		"rfc":     `Digest username="alice", realm="example.com", nonce="` + tvNonce + `", qop=auth, nc=00000001, cnonce="` + tvCNonce + `", response="` + tvResponse + `", opaque="op"`,
		"msrplib": `Digest username="alice",realm="example.com",nonce="` + tvNonce + `",qop="auth",nc="00000001",cnonce="` + tvCNonce + `",response="` + tvResponse + `",opaque="op"`,
		"spaces":  `Digest   response = "` + tvResponse + `" ,  nc=00000001 ,cnonce="` + tvCNonce + `",qop = auth, opaque=op, nonce="` + tvNonce + `", REALM="example.com", Username="alice"`,
		"uri":     `Digest username="alice", realm="example.com", uri="msrps://example.com:2855;tcp", nonce="` + tvNonce + `", qop=auth, nc=00000001, cnonce="` + tvCNonce + `", response="` + tvResponse + `", opaque="op", algorithm=MD5`,
	}
	for name, v := range forms {
		t.Run(name, func(t *testing.T) {
			var d Digest
			if err := ParseDigest([]byte(v), &d); err != nil {
				t.Fatal(err)
			}
			// The parsed fields must reproduce the brief's response.
			ha1 := md5hex(string(d.Username) + ":" + string(d.Realm) + ":1234")
			ha2 := md5hex("AUTH:msrps://example.com:2855;tcp")
			resp := md5hex(ha1 + ":" + string(d.Nonce) + ":" + string(d.NC) + ":" + string(d.CNonce) + ":" + string(d.QOP) + ":" + ha2)
			if ha1 != "fd7cab2287702c763e7b318b7fb2451a" || ha2 != "db4b577b87329dbf198abaac1d0dcf40" {
				t.Fatalf("HA1 %s HA2 %s", ha1, ha2)
			}
			if resp != string(d.Response) || resp != tvResponse {
				t.Fatalf("response %s, header says %s", resp, d.Response)
			}
			if string(d.Opaque) != "op" {
				t.Fatalf("opaque %q", d.Opaque)
			}
		})
	}
	rspauth := md5hex("fd7cab2287702c763e7b318b7fb2451a:" + tvNonce + ":00000001:" + tvCNonce + ":auth:" + md5hex(":msrps://example.com:2855;tcp"))
	if rspauth != "84d5698b3898ead8327aee2ace6f3da1" {
		t.Fatalf("rspauth %s", rspauth)
	}
}

func TestDigestEdgeCases(t *testing.T) {
	var d Digest
	if err := ParseDigest([]byte(`qop=auth, cnonce="x", nc=00000001, rspauth="abc"`), &d); err != nil || string(d.RspAuth) != "abc" {
		t.Fatalf("Authentication-Info without scheme: %v %q", err, d.RspAuth)
	}
	if err := ParseDigest([]byte(`Digest username="a\"b\\c", realm=""`), &d); err != nil || !d.Escaped || d.Realm == nil || len(d.Realm) != 0 {
		t.Fatalf("escapes: %v %+v", err, d)
	}
	if got := string(AppendUnescaped(nil, d.Username)); got != `a"b\c` {
		t.Fatalf("unescaped %q", got)
	}
	for _, bad := range []string{`Digest username="open`, `Digest =x`, `Digest a=b c=d`, `Digest a=b"c"`, `Digest a b=c`} {
		if err := ParseDigest([]byte(bad), &d); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	var out []byte
	out = append(out, "Digest "...)
	out = AppendDigestParam(out, true, "realm", []byte(`ex"ample`), true)
	out = AppendDigestParam(out, false, "qop", []byte("auth"), false)
	if string(out) != `Digest realm="ex\"ample", qop=auth` {
		t.Fatal(string(out))
	}
	if err := ParseDigest(out, &d); err != nil || string(AppendUnescaped(nil, d.Realm)) != `ex"ample` || string(d.QOP) != "auth" {
		t.Fatalf("round trip: %v %+v", err, d)
	}
}
