package main

import (
	"context"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/msrprelay/msrprelay/bench/compare"
	"github.com/msrprelay/msrprelay/endpoint"
)

func TestParseAuthForm(t *testing.T) {
	for in, want := range map[string]endpoint.AuthForm{"rfc": endpoint.FormRFC, "msrplib": endpoint.FormMsrplib, "uri": endpoint.FormURI} {
		if got, err := parseAuthForm(in); err != nil || got != want {
			t.Errorf("%s: %v %v", in, got, err)
		}
	}
	if _, err := parseAuthForm("basic"); err == nil {
		t.Error("unknown form accepted")
	}
}

func TestTLSConfig(t *testing.T) {
	if c, err := tlsConfig("tcp", "", false); c != nil || err != nil {
		t.Errorf("tcp: %v %v", c, err)
	}
	if c, err := tlsConfig("tls", "", true); c == nil || !c.InsecureSkipVerify || err != nil {
		t.Errorf("tls insecure: %v %v", c, err)
	}
	if _, err := tlsConfig("tls", "/nonexistent.pem", false); err == nil {
		t.Error("missing CA file accepted")
	}
	if _, err := tlsConfig("udp", "", false); err == nil {
		t.Error("udp accepted")
	}
}

func TestRunRejectsBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"--auth-form", "nope"},
		{"--topology", "ring"},
		{"--kind", "proxy"},
		{"--pairs", "0", "--messages", "10", "--user", "u", "--realm-host", "h"},
	} {
		if err := runCmd(context.Background(), args); err == nil {
			t.Errorf("%v accepted", args)
		}
	}
}

func TestDensityRejectsBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"--auth-form", "nope"},
		{"--sessions", "0", "--user", "u", "--realm-host", "h"},
		{"--sessions", "1"}, // no user
	} {
		if err := densityCmd(context.Background(), args); err == nil {
			t.Errorf("%v accepted", args)
		}
	}
}

func TestCompareOutDir(t *testing.T) {
	for _, tc := range []struct {
		out   string
		quick bool
		want  string
	}{{"", false, "bench/results"}, {"", true, "bench/results/quick"}, {"x", true, "x"}} {
		if got := outDir(tc.out, tc.quick); got != tc.want {
			t.Errorf("outDir(%q, %v) = %q, want %q", tc.out, tc.quick, got, tc.want)
		}
	}
}

// TestCompareFrom draws a stored report again without running anything.
func TestCompareFrom(t *testing.T) {
	dir := t.TempDir()
	r := &compare.Report{Rounds: 1, CPUs: 2, Targets: []string{"gnet"}}
	if err := compare.WriteFiles(dir, r); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "again")
	if err := compareCmd(context.Background(), []string{"--from", filepath.Join(dir, "latest.json"), "--out", out}); err != nil {
		t.Fatal(err)
	}
	for _, f := range compare.Files {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Error(err)
		}
	}
}

// TestHelpIsNotAnError: every subcommand's -h ends in flag.ErrHelp, which
// main treats as success (exit 0) rather than printing it as an error.
func TestHelpIsNotAnError(t *testing.T) {
	for name, cmd := range map[string]func(context.Context, []string) error{
		"run": runCmd, "compare": compareCmd, "density": densityCmd, "forward": forwardCmd, "soak": soakCmd, "auth-rate": authRateCmd,
	} {
		if err := cmd(context.Background(), []string{"-h"}); !errors.Is(err, flag.ErrHelp) {
			t.Errorf("%s -h: %v, want flag.ErrHelp", name, err)
		}
	}
}
