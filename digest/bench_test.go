package digest

import (
	"testing"
	"time"

	"github.com/msrprelay/msrprelay/codec"
)

// hotState is what one AUTH exchange needs, built once per benchmark.
type hotState struct {
	n      *Nonces
	creds  *Credentials
	realm  []byte
	uri    []byte
	nonce  []byte
	buf    []byte
	d      codec.Digest
	now    time.Time
	connID uint64
}

func newHotState(tb testing.TB) *hotState {
	st := &hotState{
		n:      NewNoncesWithKey(testKey, 0),
		creds:  testCreds(tb),
		realm:  []byte(vRealm),
		uri:    []byte(vURI),
		buf:    make([]byte, 0, 128),
		now:    t0.Add(time.Second),
		connID: 42,
	}
	st.nonce = st.n.Append(nil, st.connID, st.realm, t0)
	opaque := st.n.AppendOpaque(nil, st.realm)
	// What msrplib sends: quoted qop and nc, uri= and opaque echoed.
	// (auth.header quotes nc.)
	a := auth{user: vUser, realm: vRealm, password: vPassword, nonce: string(st.nonce), nc: vNC,
		cnonce: vCNonce, qop: `"auth"`, uri: vURI, sendURI: vURI, opaque: string(opaque)}
	a.response = ClientResponse(vUser, vRealm, vPassword, vURI, string(st.nonce), vNC, vCNonce)
	if err := codec.ParseDigest([]byte(a.header()), &st.d); err != nil {
		tb.Fatal(err)
	}
	return st
}

// hotPaths are the per-AUTH operations; each must allocate nothing. The
// benchmarks and TestHotPathsAllocateNothing share them.
var hotPaths = []struct {
	name string
	run  func(tb testing.TB, st *hotState)
}{
	{"Lookup", func(tb testing.TB, st *hotState) {
		if _, ok := st.creds.Lookup(st.d.Username, st.realm); !ok {
			tb.Fatal("alice not found")
		}
	}},
	{"NoncesAppend", func(tb testing.TB, st *hotState) {
		st.buf = st.n.Append(st.buf[:0], st.connID, st.realm, st.now)
	}},
	{"AppendOpaque", func(tb testing.TB, st *hotState) {
		st.buf = st.n.AppendOpaque(st.buf[:0], st.realm)
	}},
	{"NoncesCheck", func(tb testing.TB, st *hotState) {
		if s := st.n.Check(st.nonce, st.connID, st.realm, st.now); s != NonceOK {
			tb.Fatal(s)
		}
	}},
	{"Response", func(tb testing.TB, st *hotState) {
		Response([]byte(vHA1), []byte("AUTH"), st.uri, st.nonce, st.d.NC, st.d.CNonce, st.d.QOP)
	}},
	{"Verify", func(tb testing.TB, st *hotState) {
		if r := st.n.Verify(st.creds, &st.d, st.realm, st.uri, st.connID, st.now); r.Verdict != VerdictOK {
			tb.Fatal(r.Verdict)
		}
	}},
}

func BenchmarkHotPaths(b *testing.B) {
	for _, h := range hotPaths {
		b.Run(h.name, func(b *testing.B) {
			st := newHotState(b)
			b.ReportAllocs()
			for b.Loop() {
				h.run(b, st)
			}
		})
	}
}
