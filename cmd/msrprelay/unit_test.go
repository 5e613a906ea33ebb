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

// TestDebianPackage: make deb's package holds the binaries, the unit and
// the production configuration as a conffile, and its maintainer scripts
// create the msrprelay user and keep the credentials private.
func TestDebianPackage(t *testing.T) {
	if _, err := exec.LookPath("dpkg-deb"); err != nil {
		t.Skip("dpkg-deb not installed")
	}
	dir := t.TempDir()
	cmd := exec.Command("../../configs/deb/build.sh")
	cmd.Env = append(os.Environ(), "OUTDIR="+dir, "VERSION=0.0.0~test")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("build.sh: %v\n%s", err, out)
	}
	deb := strings.TrimSpace(string(out))
	list, err := exec.Command("dpkg-deb", "-c", deb).CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, list)
	}
	for _, f := range []string{"./usr/bin/msrprelay", "./usr/bin/msrpclient", "./usr/bin/msrpbench",
		"./lib/systemd/system/msrprelay.service", "./etc/msrprelay/msrprelay.yaml"} {
		if !strings.Contains(string(list), " "+f+"\n") {
			t.Errorf("%s missing from the package:\n%s", f, list)
		}
	}
	extract := filepath.Join(dir, "control")
	if out, err := exec.Command("dpkg-deb", "-e", deb, extract).CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	conf, _ := os.ReadFile(filepath.Join(extract, "conffiles"))
	post, _ := os.ReadFile(filepath.Join(extract, "postinst"))
	if !strings.Contains(string(conf), "/etc/msrprelay/msrprelay.yaml") ||
		!strings.Contains(string(post), "adduser --system") || !strings.Contains(string(post), "-m 0600") {
		t.Fatalf("conffiles %q, postinst:\n%s", conf, post)
	}
}
