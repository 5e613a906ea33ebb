package main

import (
	"context"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/msrprelay/msrprelay/bench/compare"
	"github.com/msrprelay/msrprelay/bench/load"
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
	if c, err := tlsConfig("wss", "", true); c == nil || err != nil {
		t.Errorf("wss: %v %v", c, err)
	}
	if _, err := tlsConfig("udp", "", false); err == nil {
		t.Error("udp accepted")
	}
}

func TestSetTransports(t *testing.T) {
	for _, tc := range []struct {
		transport, senderTransport, senderRelay string
		tls                                     bool
		sender, receiver                        string // "" when Addrs serve both
		senderAddr                              string
	}{
		{"tcp", "", "", false, "", "", ""},
		{"tls", "", "", true, "", "", ""},
		{"ws", "", "", false, "ws", "ws", "127.0.0.1:1"},
		{"tcp", "wss", "127.0.0.1:2", true, "wss", "tcp", "127.0.0.1:2"},
		{"tcp", "", "127.0.0.1:2", false, "tcp", "tcp", "127.0.0.1:2"},
	} {
		tg := load.Target{Addrs: []string{"127.0.0.1:1"}}
		if err := setTransports(&tg, tc.transport, tc.senderTransport, tc.senderRelay, "", true); err != nil {
			t.Fatalf("%+v: %v", tc, err)
		}
		if (tg.TLS != nil) != tc.tls {
			t.Errorf("%+v: TLS %v", tc, tg.TLS)
		}
		if tc.sender == "" {
			if tg.Sender != nil || tg.Receiver != nil {
				t.Errorf("%+v: sides %+v %+v", tc, tg.Sender, tg.Receiver)
			}
			continue
		}
		if string(tg.Sender.Transport) != tc.sender || string(tg.Receiver.Transport) != tc.receiver ||
			tg.Sender.Addrs[0] != tc.senderAddr || tg.Receiver.Addrs[0] != "127.0.0.1:1" {
			t.Errorf("%+v: sender %+v receiver %+v", tc, tg.Sender, tg.Receiver)
		}
	}
	if err := setTransports(&load.Target{}, "tcp", "sctp", "", "", false); err == nil {
		t.Error("--sender-transport sctp accepted")
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

func TestCompareRejectsWSSWithoutWS(t *testing.T) {
	err := compareCmd(context.Background(), []string{"--kamailio-wss", "127.0.0.1:1", "--out", t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), "--kamailio-ws") {
		t.Fatalf("%v, want it to ask for --kamailio-ws", err)
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
