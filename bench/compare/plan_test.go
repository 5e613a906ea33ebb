package compare

import (
	"crypto/tls"
	"strings"
	"testing"

	"github.com/msrprelay/msrprelay/bench/load"
)

func caseNamed(t *testing.T, name string) Case {
	t.Helper()
	cs, err := Options{Only: []string{name}}.cases()
	if err != nil {
		t.Fatal(err)
	}
	return cs[0]
}

func TestCaseNamesUnique(t *testing.T) {
	seen := map[string]bool{}
	for _, c := range Cases() {
		if seen[c.Name] || strings.Contains(c.Name, ",") {
			t.Errorf("case name %q repeated or not usable in --scenarios", c.Name)
		}
		seen[c.Name] = true
	}
}

// Each target runs the cases it has listeners for, over the transports
// the case names; a Kamailio that cannot carry a case's bodies says so.
func TestTargetsPerCase(t *testing.T) {
	client := &tls.Config{}
	relay := &target{Target: load.Target{Name: "gnet", Addrs: []string{"a:1"}}, tlsClient: client,
		at: map[load.Transport]string{load.TransportTCP: "a:1", load.TransportTLS: "a:2", load.TransportWS: "a:3", load.TransportWSS: "a:4"}}
	fw := &target{Target: load.Target{Name: ForwarderTarget, Kind: load.KindForwarder, Addrs: []string{"f:1"}},
		at: map[load.Transport]string{load.TransportTCP: "f:1"}}
	kam := &target{Target: load.Target{Name: "kamailio", Addrs: []string{"k:1"}}, maxBody: kamailioMaxBody, maxBodyWhy: kamailioMaxBodyWhy,
		at: map[load.Transport]string{load.TransportTCP: "k:1"}}
	kws := &target{Target: load.Target{Name: KamailioWSTarget, Addrs: []string{"w:1"}}, maxBody: kamailioWSMaxBody, maxBodyWhy: kamailioWSMaxBodyWhy,
		wsOnly: true, tlsClient: client, at: map[load.Transport]string{load.TransportWS: "w:1", load.TransportWSS: "w:2"}}
	for _, tc := range []struct {
		c      string
		t      *target
		runs   bool
		over   string // the run's Transports()
		recv   string // the receivers' address
		notRun bool
	}{
		{"10/4", relay, true, "tcp", "a:1", false},
		{"TLS 10/4", relay, true, "tls", "a:2", false},
		{"WS 10/4", relay, true, "ws", "a:3", false},
		{"WSS 10/4", relay, true, "wss", "a:4", false},
		{"1 GiB file wss to tcp", relay, true, "wss to tcp", "a:1", false},
		{"1 GiB file tls to tcp", relay, true, "tls to tcp", "a:1", false},
		{"10/4", fw, true, "tcp", "f:1", false},
		{"WS 10/4", fw, false, "", "", false},
		{"1 GiB file wss to tcp", fw, false, "", "", false},
		{"10/4", kam, true, "tcp", "k:1", false},
		{"WS 10/4", kam, false, "", "", false},
		{"1 GiB file", kam, false, "", "", true},
		{"10/4", kws, false, "", "", false},
		{"WS 10/4", kws, true, "ws", "w:1", false},
		{"WSS 10/4", kws, true, "wss", "w:2", false},
		{"1 GiB file wss to tcp", kws, false, "", "", true},
		{"1 GiB file", kws, false, "", "", false},
	} {
		c := caseNamed(t, tc.c)
		lt, ok := tc.t.loadTarget(c)
		if ok != tc.runs {
			t.Errorf("%s on %s: runs %v, want %v", tc.c, tc.t.Name, ok, tc.runs)
			continue
		}
		if why := tc.t.notRun(c); (why != "") != tc.notRun {
			t.Errorf("%s on %s: not run %q, want a reason %v", tc.c, tc.t.Name, why, tc.notRun)
		}
		if !ok {
			continue
		}
		if got := lt.Transports(); got != tc.over {
			t.Errorf("%s on %s: over %q, want %q", tc.c, tc.t.Name, got, tc.over)
		}
		if lt.Addrs[0] != tc.recv || (lt.Receiver != nil && lt.Receiver.Addrs[0] != tc.recv) {
			t.Errorf("%s on %s: receivers at %v / %+v, want %s", tc.c, tc.t.Name, lt.Addrs, lt.Receiver, tc.recv)
		}
		if secure := strings.Contains(tc.over, "tls") || strings.Contains(tc.over, "wss"); secure != (lt.TLS != nil) {
			t.Errorf("%s on %s: TLS config %v", tc.c, tc.t.Name, lt.TLS)
		}
	}
}
