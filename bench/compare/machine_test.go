package compare

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestMachine(t *testing.T) {
	if got := cpuModel("processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC 9B45\n"); got != "AMD EPYC 9B45" {
		t.Errorf("cpu model %q", got)
	}
	if l := parseLoad("0.71 0.18 0.05 1/245 1234\n"); len(l) != 3 || l[0] != 0.71 || l[2] != 0.05 {
		t.Errorf("load %v", l)
	}
	if l := parseLoad("garbage"); l != nil {
		t.Errorf("load of garbage %v", l)
	}
	idle := &Machine{CPUModel: "X", CPUs: 2, LoadStart: []float64{0.3, 0.2, 0.1}, LoadEnd: []float64{1.9, 1, 0.5}}
	busy := &Machine{CPUModel: "X", CPUs: 2, LoadStart: []float64{1.5, 1, 1}}
	if d := idle.describe(); !strings.Contains(d, "X, 2 CPUs") || !strings.Contains(d, "0.30 0.20 0.10 before") || !strings.Contains(d, "1.90 1.00 0.50 after") || strings.Contains(d, "busy") {
		t.Errorf("idle: %s", d)
	}
	if d := busy.describe(); !strings.Contains(d, "was busy") || !strings.Contains(d, "unknown after") {
		t.Errorf("busy: %s", d)
	}
	var none *Machine
	if d := none.describe(); !strings.Contains(d, "not recorded") {
		t.Errorf("nil: %s", d)
	}
	if m := readMachine(); m.CPUs < 1 {
		t.Errorf("readMachine: %+v", m)
	}
}

// TestWriteFilesAndReadBack: the report round-trips through latest.json,
// every file is written and an old latest.svg is gone.
func TestWriteFilesAndReadBack(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "latest.svg"), []byte("<svg/>"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := sampleReport()
	r.Machine = &Machine{CPUModel: "X", CPUs: 2, LoadStart: []float64{0.1, 0.1, 0.1}}
	if err := WriteFiles(dir, r); err != nil {
		t.Fatal(err)
	}
	for _, f := range Files {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Error(err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "latest.svg")); err == nil {
		t.Error("old latest.svg left")
	}
	back, err := ReadReport(filepath.Join(dir, "latest.json"))
	if err != nil {
		t.Fatal(err)
	}
	if back.Machine == nil || back.Machine.CPUModel != "X" || len(back.Scenarios) != 1 || back.Scenarios[0].Targets[0].MsgsPerSec != 200 {
		t.Errorf("read back %+v", back)
	}
	md, _ := os.ReadFile(filepath.Join(dir, "latest.md"))
	if !strings.Contains(string(md), "Machine: X, 2 CPUs") || !strings.Contains(string(md), "(throughput.svg)") {
		t.Errorf("markdown:\n%s", md)
	}
}

// TestOnlyScenarios: --scenarios picks cases by name, in the order given,
// and a name that is no case is an error naming the valid ones.
func TestOnlyScenarios(t *testing.T) {
	cs, err := Options{Only: []string{"TLS 10/4", "1/1"}}.cases()
	if err != nil || len(cs) != 2 || cs[0].Name != "TLS 10/4" || cs[1].Name != "1/1" {
		t.Fatalf("cases %v, %v", cs, err)
	}
	if _, err := (Options{Only: []string{"10/5"}}).cases(); err == nil || !strings.Contains(err.Error(), `"10/5"`) || !strings.Contains(err.Error(), "1000/1") {
		t.Errorf("unknown scenario: %v", err)
	}
	if cs, err := (Options{}).cases(); err != nil || len(cs) != len(Cases()) {
		t.Errorf("all: %d cases, %v", len(cs), err)
	}
}
