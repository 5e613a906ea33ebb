package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestSystemdUnit: the shipped unit passes systemd-analyze verify and
// rates 2.0 or better in systemd-analyze security, and the production
// configuration it reads parses with absolute paths.
func TestSystemdUnit(t *testing.T) {
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze not installed")
	}
	unit, err := os.ReadFile("../../configs/msrprelay.service")
	if err != nil {
		t.Fatal(err)
	}
	// verify wants the binary the unit runs to exist.
	path := filepath.Join(t.TempDir(), "msrprelay.service")
	local := strings.ReplaceAll(string(unit), "/usr/bin/msrprelay", buildDaemon(t))
	if err := os.WriteFile(path, []byte(local), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(analyze, "verify", path).CombinedOutput(); err != nil {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}
	out, err := exec.Command(analyze, "security", "--offline=true", path).CombinedOutput()
	if err != nil {
		t.Fatalf("systemd-analyze security: %v\n%s", err, out)
	}
	m := regexp.MustCompile(`exposure level for \S+: ([0-9.]+)`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("no exposure level in:\n%s", out)
	}
	if level, _ := strconv.ParseFloat(string(m[1]), 64); level > 2.0 {
		t.Fatalf("exposure %.1f, want 2.0 or better:\n%s", level, out)
	}
	o, err := parseOptions([]string{"--config", "../../configs/production.yaml"})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{o.credentials, o.stateDir} {
		if !filepath.IsAbs(p) {
			t.Errorf("production path %q is relative (the unit runs in /)", p)
		}
	}
}
