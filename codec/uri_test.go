package codec

import "testing"

func TestParseURI(t *testing.T) {
	tests := []struct {
		in   string
		want URI // Port -1 when absent
	}{
		{"msrp://bob.example.com:8888/9di4eae923wzd;tcp", URI{Scheme: b("msrp"), Host: b("bob.example.com"), Port: 8888, SessionID: b("9di4eae923wzd"), Transport: b("tcp")}},
		{"msrps://example.com;tcp", URI{Scheme: b("msrps"), Host: b("example.com"), Port: -1, Transport: b("tcp")}},
		{"MSRPS://Relay.Example.COM:2855;TCP", URI{Scheme: b("MSRPS"), Host: b("Relay.Example.COM"), Port: 2855, Transport: b("TCP")}},
		{"msrp://bob@[::1]:7777/xyz;tcp;ws-param=1", URI{Scheme: b("msrp"), User: b("bob"), Host: b("[::1]"), Port: 7777, SessionID: b("xyz"), Transport: b("tcp"), Params: b("ws-param=1")}},
		{"msrps://[2001:db8::1]:2855/s3ss10n;tcp", URI{Scheme: b("msrps"), Host: b("[2001:db8::1]"), Port: 2855, SessionID: b("s3ss10n"), Transport: b("tcp")}},
		{"msrp://10.0.0.1:1/a/b+c=d;ws;a;b=c", URI{Scheme: b("msrp"), Host: b("10.0.0.1"), Port: 1, SessionID: b("a/b+c=d"), Transport: b("ws"), Params: b("a;b=c")}},
		{"msrp://alice:pw@host/s;tcp", URI{Scheme: b("msrp"), User: b("alice:pw"), Host: b("host"), Port: -1, SessionID: b("s"), Transport: b("tcp")}},
		// WebSocket clients' URIs (RFC 7977): a random .invalid host and ;ws.
		{"msrps://1ckpb61p.invalid:2855/30y1eetsdu;ws", URI{Scheme: b("msrps"), Host: b("1ckpb61p.invalid"), Port: 2855, SessionID: b("30y1eetsdu"), Transport: b("ws")}},
		{"msrp://x7k2m9q4w1zt.invalid:51234/f3K9aB;ws", URI{Scheme: b("msrp"), Host: b("x7k2m9q4w1zt.invalid"), Port: 51234, SessionID: b("f3K9aB"), Transport: b("ws")}},
	}
	for _, tc := range tests {
		got, err := ParseURI([]byte(tc.in))
		if err != nil {
			t.Errorf("%s: %v", tc.in, err)
			continue
		}
		if string(got.Scheme) != string(tc.want.Scheme) || string(got.User) != string(tc.want.User) ||
			string(got.Host) != string(tc.want.Host) || got.Port != tc.want.Port ||
			string(got.SessionID) != string(tc.want.SessionID) || string(got.Transport) != string(tc.want.Transport) ||
			string(got.Params) != string(tc.want.Params) {
			t.Errorf("%s: got %+v", tc.in, got)
		}
		if again := AppendURI(nil, &got); string(again) != tc.in {
			t.Errorf("%s: re-encoded as %s", tc.in, again)
		}
	}
}

func b(s string) []byte { return []byte(s) }

func TestParseURIRejects(t *testing.T) {
	for _, in := range []string{
		"", "msrp", "http://host;tcp", "msrp://", "msrp://host", "msrp://host:1/s",
		"msrp://host:/s;tcp", "msrp://host:99999;tcp", "msrp://host/;tcp", "msrp://[::1;tcp",
		"msrp://[]:1;tcp", "msrp://host/s s;tcp", "msrp://host;", "msrp://host;t-cp",
		"msrp://@host;tcp", "msrp://ho st;tcp", "msrp://host;tcp;a b", "msrp://h;tcp;", "msrp://h;tcp;;a", "msrp://h;tcp;a=", "msrp://[zz::1];tcp",
	} {
		if u, err := ParseURI([]byte(in)); err == nil {
			t.Errorf("%q parsed: %+v", in, u)
		}
	}
}

func TestURIEqual(t *testing.T) {
	tests := []struct {
		a, b string
		eq   bool
	}{
		{"msrp://host:1/s;tcp", "MSRP://HOST:1/s;TCP", true},
		{"msrp://host:1/s;tcp", "msrp://host:1/S;tcp", false},
		{"msrp://host:1/s;tcp", "msrp://host/s;tcp", false},
		{"msrp://host:1/s;tcp", "msrp://host:2/s;tcp", false},
		{"msrp://host/s;tcp", "msrp://host/s;tcp", true},
		{"msrp://host:1/s;tcp", "msrps://host:1/s;tcp", false},
		{"msrp://u@host:1/s;tcp", "msrp://host:1/s;tcp;x=y", true},
		{"msrp://host:1/s;tcp", "msrp://host:1/s;sctp", false},
	}
	for _, tc := range tests {
		x, err1 := ParseURI([]byte(tc.a))
		y, err2 := ParseURI([]byte(tc.b))
		if err1 != nil || err2 != nil {
			t.Fatal(err1, err2)
		}
		if x.Equal(&y) != tc.eq || y.Equal(&x) != tc.eq {
			t.Errorf("%s vs %s: equal=%v", tc.a, tc.b, !tc.eq)
		}
	}
}

func TestPathHelpers(t *testing.T) {
	p := []byte("msrp://a:1/x;tcp  msrp://b:2/y;tcp msrp://c:3/z;tcp")
	first, rest := NextURI(p)
	if string(first) != "msrp://a:1/x;tcp" || string(rest) != "msrp://b:2/y;tcp msrp://c:3/z;tcp" {
		t.Fatalf("%q %q", first, rest)
	}
	if PathLen(p) != 3 || string(LastURI(p)) != "msrp://c:3/z;tcp" || !ValidPath(p) {
		t.Fatal("path helpers")
	}
	if PathLen(nil) != 0 || LastURI(nil) != nil || ValidPath(nil) || ValidPath([]byte("msrp://a:1/x;tcp junk")) {
		t.Fatal("empty or bad path")
	}
}
