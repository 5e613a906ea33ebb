package main

import (
	"context"
	"errors"
	"flag"
	"strings"
	"testing"
	"time"
)

func TestUsage(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want error
		text string
	}{
		{nil, errUsage, "usage:"},
		{[]string{"fetch"}, errUsage, `unknown command "fetch"`},
		{[]string{"receive", "--help"}, flag.ErrHelp, "usage: msrpclient receive"},
		{[]string{"send", "--help"}, flag.ErrHelp, "usage: msrpclient send"},
		{[]string{"receive", "--relay", "127.0.0.1:1"}, errUsage, "receive needs --relay and --user"},
		{[]string{"send", "--to-path", "msrp://127.0.0.1:1/s;tcp"}, errUsage, "give one of --message and --file"},
		{[]string{"send", "--to-path", "nonsense", "--message", "x"}, errUsage, "not a list of MSRP URIs"},
		{[]string{"send", "--to-path", "msrp://127.0.0.1:1/s;tcp", "--message", "x", "--transport", "udp"}, errUsage, "--transport must be tcp, tls, ws or wss"},
	} {
		var out, errOut strings.Builder
		err := run(context.Background(), tc.args, &out, &errOut)
		if !errors.Is(err, tc.want) || !strings.Contains(out.String()+errOut.String(), tc.text) {
			t.Errorf("%q: err %v, output %q; want %v and %q", tc.args, err, out.String()+errOut.String(), tc.want, tc.text)
		}
	}
}

// TestReceiveEnds: --timeout without traffic ends receive quietly; losing
// the relay ends it with an error.
func TestReceiveEnds(t *testing.T) {
	relay, stop := startRelay(t)
	idle := startReceive(t, append(authArgs(relay, "bob"), "--timeout", "300ms")...)
	start := time.Now()
	if err := idle.wait(t); err != nil || time.Since(start) > 5*time.Second {
		t.Errorf("idle receive: %v after %v", err, time.Since(start))
	}
	lost := startReceive(t, authArgs(relay, "carol")...)
	stop()
	if err := lost.wait(t); err == nil || !strings.Contains(err.Error(), "connection to the relay lost") {
		t.Errorf("receive after the relay stopped: %v", err)
	}
}

// TestAuth: every digest form logs in; a wrong password is an error that
// says AUTH failed.
func TestAuth(t *testing.T) {
	relay, _ := startRelay(t)
	for _, form := range []string{"rfc", "msrplib", "uri"} {
		rr := startReceive(t, append(authArgs(relay, "alice"), "--auth-form", form, "--timeout", "100ms")...)
		if err := rr.wait(t); err != nil {
			t.Errorf("form %s: %v", form, err)
		}
	}
	args := []string{"--relay", relay, "--transport", "tcp", "--user", "alice", "--password", "wrong", "--realm-host", "example.com"}
	err := runReceive(context.Background(), args, &strings.Builder{}, logWriter{t, "receive: "})
	if err == nil || !strings.Contains(err.Error(), "AUTH refused") {
		t.Errorf("wrong password: %v", err)
	}
	t.Logf("error as shown: %v", err)
}

// TestSendTransportDefault: without --transport, send speaks tls to a relay
// it logs in at (the relay's default) and follows the first To-Path URI's
// scheme when it goes straight to the receiver's relay.
func TestSendTransportDefault(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--to-path", "msrp://127.0.0.1:1/s;tcp"}, "tcp"},
		{[]string{"--to-path", "msrps://127.0.0.1:1/s;tcp"}, "tls"},
		{[]string{"--to-path", "msrp://127.0.0.1:1/s;tcp", "--relay", "127.0.0.1:2", "--user", "u", "--password", "p"}, "tls"},
		{[]string{"--to-path", "msrps://127.0.0.1:1/s;tcp", "--transport", "tcp"}, "tcp"},
		{[]string{"--to-path", "msrp://127.0.0.1:1/s;ws"}, "ws"},
		{[]string{"--to-path", "msrps://127.0.0.1:1/s;ws"}, "wss"},
		{[]string{"--to-path", "msrps://127.0.0.1:1/s;ws", "--transport", "tls"}, "tls"},
	} {
		var f sendFlags
		fs := sendFlagSet(&f, &strings.Builder{})
		if err := parseFlags(fs, append(tc.args, "--message", "x")); err != nil {
			t.Fatal(err)
		}
		fs.Visit(func(fl *flag.Flag) { f.transportSet = f.transportSet || fl.Name == "transport" })
		if err := f.check(); err != nil || f.conn.transport != tc.want {
			t.Errorf("%q: transport %s, err %v; want %s", tc.args, f.conn.transport, err, tc.want)
		}
	}
}
