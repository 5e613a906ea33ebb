package load

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/msrprelay/msrprelay/digest"
	"github.com/msrprelay/msrprelay/engine"
	"github.com/msrprelay/msrprelay/engine/e2etest"
	"github.com/msrprelay/msrprelay/engine/gnetdrv/gnettest"
)

// authOKCounter counts the AUTHs the relay itself accepted, to check the
// run's count against.
type authOKCounter struct{ n atomic.Int64 }

func (c *authOKCounter) Add(k engine.Counter, n int64) {
	if k == engine.AuthOK {
		c.n.Add(n)
	}
}

// startAuthRelay starts an in-process relay that knows users u0..u3
// (password pw-uN) and counts the AUTHs it accepts.
func startAuthRelay(t *testing.T) (addr string, accepted *authOKCounter, users []AuthUser) {
	t.Helper()
	var file []byte
	for _, n := range []string{"u0", "u1", "u2", "u3"} {
		file = digest.AppendEntry(file, n, e2etest.Realm, "pw-"+n)
		users = append(users, AuthUser{n, "pw-" + n})
	}
	creds, err := digest.ParseCredentials(strings.NewReader(string(file)))
	if err != nil {
		t.Fatal(err)
	}
	cfg := e2etest.BaseConfig(t)
	cfg.Credentials = creds
	accepted = &authOKCounter{}
	cfg.Metrics = accepted
	return gnettest.Start(t, cfg).Addr, accepted, users
}

func authTarget(addr string) Target {
	return Target{Name: "gnet", Addrs: []string{addr}, RealmHost: e2etest.Realm}
}

// Clients go past the relay's per-connection session bound, so they must
// redial on time; every AUTH counted is one the relay accepted, and every
// user takes turns.
func TestAuthRateAgainstRelay(t *testing.T) {
	addr, accepted, users := startAuthRelay(t)
	res, err := AuthRate(context.Background(), authTarget(addr), Scenario{Name: "auth", Pairs: 2, Duration: 700 * time.Millisecond}, users)
	if err != nil {
		t.Fatal(err)
	}
	if res.ErrorCount() != 0 {
		t.Fatalf("errors %v (%s)", res.Errors, res.FirstError)
	}
	if res.Delivered <= 2*AuthsPerConn*2 {
		t.Fatalf("%d AUTHs: too few to have needed a second connection per client", res.Delivered)
	}
	if got := accepted.n.Load(); got != res.Delivered {
		t.Fatalf("relay accepted %d AUTHs, the run counted %d", got, res.Delivered)
	}
	if res.Latency.Count != res.Delivered || res.MsgsPerSec <= 0 || res.Setup.Auths != int(res.Delivered) {
		t.Fatalf("latency count %d, %.0f/s, setup %+v for %d AUTHs", res.Latency.Count, res.MsgsPerSec, res.Setup, res.Delivered)
	}
}

// A user with a wrong password is refused every time it comes round, and
// the run counts exactly those refusals while the others go on.
func TestAuthRateCountsRefusals(t *testing.T) {
	addr, accepted, users := startAuthRelay(t)
	users[3].Password = "wrong"
	res, err := AuthRate(context.Background(), authTarget(addr), Scenario{Name: "auth", Pairs: 1, Duration: 400 * time.Millisecond}, users)
	if err != nil {
		t.Fatal(err)
	}
	refused := res.Errors["auth-refused"]
	if refused == 0 || refused != res.ErrorCount() || !strings.Contains(res.FirstError, "u3") {
		t.Fatalf("errors %v (%s)", res.Errors, res.FirstError)
	}
	// One client walks the users in order: u3 is every fourth AUTH.
	if tries := res.Delivered + refused; refused < tries/4-1 || refused > tries/4+1 {
		t.Fatalf("%d refused of %d", refused, tries)
	}
	if got := accepted.n.Load(); got != res.Delivered || res.Sent != res.Delivered+refused {
		t.Fatalf("relay accepted %d, run counted %d delivered, %d sent", got, res.Delivered, res.Sent)
	}
}

func TestAuthRateRejectsBadSetups(t *testing.T) {
	ctx := context.Background()
	sc := Scenario{Pairs: 1, Duration: time.Millisecond}
	for name, c := range map[string]struct {
		t     Target
		sc    Scenario
		users []AuthUser
	}{
		"no user":    {authTarget("127.0.0.1:1"), sc, nil},
		"forwarder":  {Target{Addrs: []string{"127.0.0.1:1"}, Kind: KindForwarder}, sc, []AuthUser{{"u", "p"}}},
		"no pairs":   {authTarget("127.0.0.1:1"), Scenario{Duration: time.Second}, []AuthUser{{"u", "p"}}},
		"no address": {Target{RealmHost: "h"}, sc, []AuthUser{{"u", "p"}}},
	} {
		if _, err := AuthRate(ctx, c.t, c.sc, c.users); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// A relay that is not there: every dial fails and is counted, none is
// taken for an AUTH.
func TestAuthRateCountsDialFailures(t *testing.T) {
	res, err := AuthRate(context.Background(), Target{Addrs: []string{"127.0.0.1:1"}, RealmHost: "h", NoSourceSpread: true},
		Scenario{Pairs: 1, Duration: 100 * time.Millisecond}, []AuthUser{{"u", "p"}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Delivered != 0 || res.Errors["auth-dial"] == 0 || res.FirstError == "" {
		t.Fatalf("delivered %d errors %v", res.Delivered, res.Errors)
	}
}
