package engine

import "testing"

func TestPathRevisits(t *testing.T) {
	const (
		a1 = "msrps://a.example.com:2855/s1;tcp"
		a2 = "msrps://A.example.com:2855/s2;tcp"
		a3 = "msrps://a.example.com:2855/s3;tcp"
		b1 = "msrps://b.example.com:2855/t1;tcp"
		b2 = "msrps://b.example.com:2855/t2;tcp"
		ap = "msrps://a.example.com:2856/s4;tcp" // another port: another relay
		e  = "msrp://bob.example.com:9/x;tcp"
	)
	tests := []struct {
		path string
		want bool
	}{
		{a1 + " " + e, false},
		{a1 + " " + b1 + " " + e, false},
		{a1 + " " + a2 + " " + e, false}, // shared topology: two hops in process
		{a1 + " " + ap + " " + e, false},
		{a1 + " " + a2 + " " + a3 + " " + e, true},
		{a1 + " " + b1 + " " + a2 + " " + e, true},
		{a1 + " " + b1 + " " + a2 + " " + b2 + " " + a3 + " " + e, true},
		{a1 + " " + b1 + " " + b2 + " " + e, false},
	}
	for _, tc := range tests {
		if got := pathRevisits([]byte(tc.path)); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.path, got, tc.want)
		}
	}
}

// TestLoopingPathRefused: a request whose To-Path leaves this relay and
// comes back is refused at once, not forwarded.
func TestLoopingPathRefused(t *testing.T) {
	r, _ := testRelay(t, nil)
	alice, _, la, lb, to := setup(t, r)
	var w Worker
	sid := to[:len(to)-len(" "+bobURI)]
	loop := sid + " msrps://b.example.com:2855/t1;tcp " + sid + " " + bobURI
	receive(t, &w, alice, sendFrame("tid00001", loop, aliceURI, "1-2/2", []byte("hi")))
	got := decode(t, la.flush())
	if len(got) != 1 || got[0].f.Code() != 403 {
		t.Fatalf("want one 403, got %d frames", len(got))
	}
	if out := lb.flush(); len(out) != 0 {
		t.Fatalf("forwarded: %q", out)
	}
}
