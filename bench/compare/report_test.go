package compare

import (
	"bytes"
	"encoding/xml"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/msrprelay/msrprelay/bench/load"
)

func result(msgs float64, p50 int64, cpu float64) *load.Result {
	return &load.Result{MsgsPerSec: msgs, Latency: load.Latency{P50: p50, P90: p50 * 2, P99: p50 * 4, P999: p50 * 8, Max: p50 * 16},
		Relay: &load.Usage{CPUPerMsgUs: cpu}}
}

func sampleReport() *Report {
	gnet := summarize("gnet", []*load.Result{result(100, 10, 8), result(300, 30, 6), result(200, 20, 7)}, "")
	fw := summarize("forwarder", []*load.Result{result(400, 5, 2)}, "")
	bad := summarize("kamailio", nil, "setup: pair 0: AUTH refused | 403")
	ts := []TargetSummary{gnet, fw, bad}
	setRatios(ts)
	return &Report{At: time.Unix(0, 0).UTC(), Rounds: 3, PerRunSec: 5, CPUs: 2, Targets: []string{"gnet", "forwarder", "kamailio"},
		Scenarios: []ScenarioReport{{Name: "10/4", Pairs: 10, Window: 4, BodySize: 100, Topology: "single", Targets: ts}}}
}

func TestSummaryMediansAndRatios(t *testing.T) {
	r := sampleReport()
	g, f := r.Scenarios[0].Targets[0], r.Scenarios[0].Targets[1]
	if g.MsgsPerSec != 200 || g.MsgsPerSecMin != 100 || g.MsgsPerSecMax != 300 || g.P50 != 20 || g.RelayCPU != 7 {
		t.Fatalf("gnet summary %+v", g)
	}
	if f.ThroughputRatio != 2 || f.CPURatio != 2.0/7 || g.ThroughputRatio != 1 {
		t.Fatalf("ratios: forwarder %v %v, gnet %v", f.ThroughputRatio, f.CPURatio, g.ThroughputRatio)
	}
}

// A WebSocket case says its transports in its heading, and a target that
// cannot carry a case's bodies gets a row saying so.
func TestMarkdownWebSocketCases(t *testing.T) {
	gnet := summarize("gnet", []*load.Result{result(100, 10, 8)}, "")
	r := &Report{At: time.Unix(0, 0).UTC(), Rounds: 1, PerRunSec: 3, CPUs: 2, Targets: []string{"gnet", KamailioWSTarget},
		Scenarios: []ScenarioReport{
			{Name: "WS 10/4", Pairs: 10, Window: 4, BodySize: 100, Topology: "single", Sender: load.TransportWS, Receiver: load.TransportWS,
				Targets: []TargetSummary{gnet}},
			{Name: "1 GiB file wss to tcp", Kind: File, Pairs: 1, Window: 1, BodySize: 64 << 10, FileSize: 1 << 30, Topology: "single",
				Sender: load.TransportWSS, Receiver: load.TransportTCP,
				Targets: []TargetSummary{gnet, {Target: KamailioWSTarget, NotRun: "65536-byte bodies: too long"}}},
		}}
	var b bytes.Buffer
	if err := WriteMarkdown(&b, r); err != nil {
		t.Fatal(err)
	}
	md := b.String()
	for _, want := range []string{"## WS 10/4: 10 pairs x window 4, 100-byte bodies, single topology over WebSocket\n",
		"## 1 GiB file wss to tcp: 1024 MiB in 64 KiB chunks, one message, sender over WebSocket over TLS, receiver over TCP\n",
		"| kamailio-ws | not run: 65536-byte bodies: too long |"} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
}

func TestMarkdown(t *testing.T) {
	var b bytes.Buffer
	if err := WriteMarkdown(&b, sampleReport()); err != nil {
		t.Fatal(err)
	}
	md := b.String()
	for _, want := range []string{"## 10/4: 10 pairs x window 4", "| gnet | 200 (100-300) | 1.00 | 20 |", "| forwarder | 400 | 2.00 |", "| kamailio | failed: setup: pair 0: AUTH refused / 403 |"} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
}

// TestChartsAreWellFormed: both charts parse as XML; the throughput chart
// has a bar per target that ran (the failed one draws nothing) and the
// latency chart a p50-p99 line each.
func TestChartsAreWellFormed(t *testing.T) {
	for _, tc := range []struct {
		name string
		draw func(io.Writer, *Report) error
		elem string
	}{
		{"throughput", WriteThroughputSVG, "rect"},
		{"latency", WriteLatencySVG, "circle"},
	} {
		var b bytes.Buffer
		if err := tc.draw(&b, sampleReport()); err != nil {
			t.Fatal(err)
		}
		text := b.String()
		d := xml.NewDecoder(&b)
		n := 0
		for {
			tok, err := d.Token()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("%s svg: %v", tc.name, err)
			}
			if se, ok := tok.(xml.StartElement); ok && se.Name.Local == tc.elem {
				n++
			}
		}
		if tc.elem == "rect" {
			n -= 1 + 3 // the background and the legend's three targets
		}
		if n != 2 {
			t.Errorf("%s: %d %s elements for the targets, want 2:\n%s", tc.name, n, tc.elem, text)
		}
		if !strings.Contains(text, "machine load not recorded") {
			t.Errorf("%s: no machine line", tc.name)
		}
	}
}

func TestRunTable(t *testing.T) {
	r := result(1000, 50, 9)
	r.Errors = map[string]int64{"lost": 2}
	r.FirstError = "pair 0 conn-bob: EOF"
	var b bytes.Buffer
	WriteRunTable(&b, r)
	for _, want := range []string{"1000 msgs/s", "p50 50", "9.0 us/msg", "error lost", "first error"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, b.String())
		}
	}
}

func TestMarkdownFileAndHandshakeCases(t *testing.T) {
	file := func(mbps float64, rssMax int64) *load.Result {
		r := result(mbps*1e6/65536, 100, 3)
		r.MBPerSec = mbps
		r.Relay.RSSStartKB, r.Relay.RSSMaxKB = 10<<10, rssMax
		return r
	}
	fts := []TargetSummary{summarize("gnet", []*load.Result{file(900, 30<<10)}, ""), summarize("forwarder", []*load.Result{file(1200, 5<<10)}, "")}
	setRatios(fts)
	hs := []TargetSummary{summarize("gnet", []*load.Result{result(1000, 800, 900)}, "")}
	setRatios(hs)
	r := &Report{Rounds: 1, Targets: []string{"gnet", "forwarder"}, Scenarios: []ScenarioReport{
		{Name: "1 GiB file", Kind: File, Pairs: 1, BodySize: 64 << 10, FileSize: 1 << 30, Targets: fts},
		{Name: "TLS handshakes", Kind: Handshakes, TLS: true, Pairs: 8, Targets: hs},
	}}
	var b bytes.Buffer
	if err := WriteMarkdown(&b, r); err != nil {
		t.Fatal(err)
	}
	md := b.String()
	for _, want := range []string{"## 1 GiB file: 1024 MiB in 64 KiB chunks", "| gnet | 900 | 0.75 | 100 | 400 | 3.0 | 10 | 30 | 0 |",
		"## TLS handshakes: 8 clients", "| gnet | 1000 | 1.00 | 800 | 3200 | 900.0 | 1.00 |"} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
}
