package load

import (
	"context"
	"testing"
	"time"

	"github.com/msrprelay/msrprelay/bench/forwarder"
	"github.com/msrprelay/msrprelay/endpoint"
	"github.com/msrprelay/msrprelay/engine/e2etest"
	"github.com/msrprelay/msrprelay/engine/gnetdrv/gnettest"
)

// startRelay starts an in-process gnet relay, as the driver's own
// end-to-end tests do.
func startRelay(t *testing.T) string {
	t.Helper()
	return gnettest.Start(t, e2etest.BaseConfig(t)).Addr
}

func relayTarget(addr string) Target {
	return Target{Name: "gnet", Addrs: []string{addr}, RealmHost: e2etest.Realm,
		User: "alice", Password: e2etest.Password, AuthForm: endpoint.FormRFC}
}

func checkClean(t *testing.T, res *Result, want int64) {
	t.Helper()
	if res.Delivered != want || res.ErrorCount() != 0 {
		t.Fatalf("delivered %d of %d, errors %v (%s)", res.Delivered, want, res.Errors, res.FirstError)
	}
	if res.Latency.Count != want {
		t.Fatalf("latency count %d, want %d", res.Latency.Count, want)
	}
}

func TestRunAgainstRelay(t *testing.T) {
	addr := startRelay(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, topo := range []Topology{Single, Shared} {
		res, err := Run(ctx, relayTarget(addr), Scenario{Pairs: 2, Window: 4, Messages: 100, Topology: topo})
		if err != nil {
			t.Fatalf("%v: %v", topo, err)
		}
		checkClean(t, res, 100)
		wantAuths := 2
		if topo == Shared {
			wantAuths = 4
		}
		if res.Setup.Auths != wantAuths {
			t.Fatalf("%v: %d AUTHs", topo, res.Setup.Auths)
		}
	}
}

func TestRunTimedWithRate(t *testing.T) {
	addr := startRelay(t)
	res, err := Run(context.Background(), relayTarget(addr), Scenario{Pairs: 2, Window: 2, Duration: 300 * time.Millisecond, Rate: 200})
	if err != nil {
		t.Fatal(err)
	}
	if res.ErrorCount() != 0 || res.Delivered < 40 || res.Delivered > 70 {
		t.Fatalf("delivered %d (want ~60), errors %v", res.Delivered, res.Errors)
	}
}

func TestRunThroughForwarder(t *testing.T) {
	f, err := forwarder.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	res, err := Run(context.Background(), Target{Name: "forwarder", Kind: KindForwarder, Addrs: []string{f.Addr()}},
		Scenario{Pairs: 3, Window: 4, Messages: 300, BodySize: 4000})
	if err != nil {
		t.Fatal(err)
	}
	checkClean(t, res, 300)
}

// A file goes as one message in chunks; every chunk is checked on its own,
// through the relay and through the forwarder.
func TestRunFileTransfer(t *testing.T) {
	f, err := forwarder.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	targets := []Target{relayTarget(startRelay(t)), {Name: "forwarder", Kind: KindForwarder, Addrs: []string{f.Addr()}}}
	// The last chunk is shorter than the others.
	const size = 4<<20 + 1000
	for _, tg := range targets {
		res, err := Run(context.Background(), tg, Scenario{Pairs: 1, Window: 1 << 10, FileSize: size, BodySize: 64 << 10})
		if err != nil {
			t.Fatalf("%s: %v", tg.Name, err)
		}
		checkClean(t, res, 65)
	}
}

// A receiver reading at a limited rate takes the time the rate says.
func TestRunThrottledReceiver(t *testing.T) {
	addr := startRelay(t)
	const size, rate = 2 << 20, 8 << 20
	res, err := Run(context.Background(), relayTarget(addr), Scenario{Pairs: 1, Window: 1 << 10, FileSize: size, BodySize: 32 << 10, ReceiveRate: rate})
	if err != nil {
		t.Fatal(err)
	}
	checkClean(t, res, 64)
	if min := float64(size) / rate * 0.8; res.Seconds < min {
		t.Fatalf("2 MiB at 8 MiB/s took %.3f s, want at least %.3f", res.Seconds, min)
	}
}
