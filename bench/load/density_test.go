package load

import (
	"context"
	"os"
	"testing"
	"time"
)

func TestDensityAgainstRelay(t *testing.T) {
	addr := startRelay(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	tg := relayTarget(addr)
	tg.PID = os.Getpid() // the relay runs in this process
	res, err := Density(ctx, tg, DensityOptions{Sessions: 20, Parallel: 8, Settle: 50 * time.Millisecond,
		Active: &Scenario{Pairs: 2, Window: 1, Duration: 200 * time.Millisecond}, Baseline: true})
	if err != nil {
		t.Fatal(err)
	}
	if res.Opened != 20 || res.Errors != 0 {
		t.Fatalf("opened %d of 20, %d errors (%s)", res.Opened, res.Errors, res.FirstError)
	}
	if res.RSSBeforeKB <= 0 || res.RSSAfterKB <= 0 || res.SetupPerSec <= 0 {
		t.Fatalf("rss %d -> %d kB, %.0f sessions/s", res.RSSBeforeKB, res.RSSAfterKB, res.SetupPerSec)
	}
	if res.ActiveError != "" || res.Active == nil || res.Active.Delivered == 0 || res.Active.ErrorCount() != 0 {
		t.Fatalf("active load: %v %+v", res.ActiveError, res.Active)
	}
	if res.BaselineError != "" || res.Baseline == nil || res.Baseline.Delivered == 0 || res.Baseline.ErrorCount() != 0 {
		t.Fatalf("baseline load: %v %+v", res.BaselineError, res.Baseline)
	}
}

func TestDensityRejectsBadOptions(t *testing.T) {
	tg := relayTarget("127.0.0.1:1")
	if _, err := Density(context.Background(), tg, DensityOptions{}); err == nil {
		t.Error("zero sessions accepted")
	}
	tg.Kind = KindForwarder
	if _, err := Density(context.Background(), tg, DensityOptions{Sessions: 1}); err == nil {
		t.Error("forwarder accepted")
	}
}
