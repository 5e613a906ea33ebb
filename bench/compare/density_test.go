package compare

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/msrprelay/msrprelay/bench/load"
)

func TestDensityMarkdown(t *testing.T) {
	r := sampleReport()
	r.Density = &DensityReport{Sessions: 9000,
		Engines: []*load.DensityResult{
			{Target: "gnet", Sessions: 9000, Opened: 9000, SetupSeconds: 3, SetupPerSec: 3000, RSSBeforeKB: 10000, RSSAfterKB: 50000, BytesPerSession: 5000,
				Active: result(50000, 1000, 0), Baseline: result(60000, 900, 0)},
			{Target: "goroutine", Sessions: 9000, Opened: 8990, Errors: 10, FirstError: "session 7: bob: AUTH | refused",
				SetupSeconds: 2, SetupPerSec: 4495, RSSBeforeKB: 10000, RSSAfterKB: 400000, BytesPerSession: 40000, ActiveError: "setup: boom"},
		},
		Failed: map[string]string{"other": "exited"}}
	r.Density.setRatio()
	if r.Density.Ratio != 8 {
		t.Fatalf("ratio %v", r.Density.Ratio)
	}
	var b bytes.Buffer
	if err := WriteMarkdown(&b, r); err != nil {
		t.Fatal(err)
	}
	md := b.String()
	for _, want := range []string{
		"## idle density: 9000 idle sessions", "bytes per idle session: **8.00**",
		"| gnet | 9000 | 0 | 3.0 | 3000 | 10000 | 50000 | 5000 |",
		"| goroutine | 8990 | 10 | 2.0 | 4495 | 10000 | 400000 | 40000 |",
		"| other | failed: exited |", "goroutine first error: session 7: bob: AUTH / refused",
		"| gnet | 9000 | 50000 | 1000 | 4000 | 8000 | 16000 | 0 |", "| gnet | 0 | 60000 | 900 |",
		"| goroutine | 8990 | failed: setup: boom |",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
	var tb bytes.Buffer
	WriteDensityTable(&tb, r.Density.Engines[0])
	if s := tb.String(); !strings.Contains(s, "9000 of 9000 opened") || !strings.Contains(s, "5000 bytes per idle session") ||
		!strings.Contains(s, "once the idle sessions were closed") {
		t.Errorf("table:\n%s", s)
	}
}

func TestDensityTooMany(t *testing.T) {
	if _, err := runDensity(context.Background(), Options{Density: MaxDensity + 1}.withDefaults()); err == nil {
		t.Fatal("more than MaxDensity sessions accepted")
	}
}
