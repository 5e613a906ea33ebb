package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/msrprelay/msrprelay/bench/compare"
	"github.com/msrprelay/msrprelay/bench/load"
)

// tlsConfig is the client TLS configuration of a transport over TLS (tls,
// wss), nil for one without (tcp, ws).
func tlsConfig(transport, ca string, insecure bool) (*tls.Config, error) {
	switch transport {
	case "tcp", "ws", "":
		return nil, nil
	case "tls", "wss":
	default:
		return nil, fmt.Errorf("--transport %q: want tcp, tls, ws or wss", transport)
	}
	cfg := &tls.Config{InsecureSkipVerify: insecure, ClientSessionCache: tls.NewLRUClientSessionCache(0)}
	if ca != "" {
		pem, err := os.ReadFile(ca)
		if err != nil {
			return nil, fmt.Errorf("--tls-ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--tls-ca %s: no PEM certificate", ca)
		}
		cfg.RootCAs = pool
	}
	return cfg, nil
}

func runCmd(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("msrpbench run", flag.ContinueOnError)
	tf := addTargetFlags(fs, "relay address(es), host:port, comma-separated (loopback only)",
		"relay process whose CPU and memory are sampled")
	kind := fs.String("kind", "relay", "relay (AUTH first) or forwarder (plain TCP splice: no AUTH)")
	transport := fs.String("transport", "tcp", "tcp, tls, ws or wss (MSRP over WebSocket, RFC 7977): how every endpoint connects, or with --sender-transport every receiver")
	senderTransport := fs.String("sender-transport", "", "the senders' transport when it differs (e.g. wss senders, as browsers, into tcp receivers; default --transport)")
	senderRelay := fs.String("sender-relay", "", "the senders' relay address(es), comma-separated, when they differ (another listener of the relay; default --relay)")
	ca := fs.String("tls-ca", "", "PEM CA bundle that verifies the relay")
	insecure := fs.Bool("insecure", false, "do not verify the relay's certificate")
	pairs := fs.Int("pairs", 10, "sender/receiver pairs")
	window := fs.Int("window", 4, "undelivered SENDs in flight per pair")
	body := fs.Int("body", 100, "body bytes per SEND")
	topology := fs.String("topology", "single", "single (alice straight to bob's relay) or shared (alice AUTHs on the same relay)")
	messages := fs.Int64("messages", 0, "messages in total (or --duration)")
	duration := fs.Duration("duration", 0, "how long to send (default 10s without --messages)")
	rate := fs.Float64("rate", 0, "messages per second over all pairs, open loop (0: closed loop)")
	fileSize := fs.Int64("file-size", 0, "send one message of this many bytes per pair, in --body-byte chunks, all in flight (a file transfer; --body default 65536)")
	receiveRate := fs.Float64("receive-rate", 0, "receivers read at most this many bytes per second (0: no limit)")
	handshakes := fs.Bool("handshakes", false, "with --transport tls: measure TLS handshakes per second (--pairs clients in parallel, for --duration)")
	authRate := fs.Bool("auth-rate", false, "measure AUTHs per second as --user (--pairs clients in parallel, for --duration; msrpbench auth-rate compares user backends)")
	jsonOut := fs.String("json", "", "write the result as JSON to this file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	t, err := tf.target()
	if err != nil {
		return err
	}
	topo, err := load.ParseTopology(*topology)
	if err != nil {
		return err
	}
	if err := setTransports(&t, *transport, *senderTransport, *senderRelay, *ca, *insecure); err != nil {
		return err
	}
	switch *kind {
	case "relay":
	case "forwarder":
		t.Kind = load.KindForwarder
	default:
		return fmt.Errorf("--kind %q: want relay or forwarder", *kind)
	}
	if *fileSize > 0 && !flagSet(fs, "body") {
		*body = 0 // the file default, 64 KiB chunks
	}
	if *messages == 0 && *duration == 0 {
		*duration = 10 * time.Second
	}
	sc := load.Scenario{Name: fmt.Sprintf("%d/%d", *pairs, *window), Pairs: *pairs, Window: *window, BodySize: *body,
		Topology: topo, Messages: *messages, Duration: *duration, Rate: *rate, FileSize: *fileSize, ReceiveRate: *receiveRate,
		Progress: func(p load.Progress) {
			fmt.Fprintf(os.Stderr, "%5.0fs  sent %d  delivered %d\n", p.Elapsed.Seconds(), p.Sent, p.Delivered)
		}}
	run := load.Run
	switch {
	case *handshakes && *authRate:
		return errors.New("--handshakes or --auth-rate, not both")
	case *handshakes:
		run = load.Handshakes
	case *authRate:
		run = func(ctx context.Context, t load.Target, sc load.Scenario) (*load.Result, error) {
			return load.AuthRate(ctx, t, sc, nil)
		}
	}
	res, err := run(ctx, t, sc)
	if err != nil && res == nil {
		return err
	}
	compare.WriteRunTable(os.Stdout, res)
	if err := writeJSON(*jsonOut, res); err != nil {
		return err
	}
	if err != nil {
		return err
	}
	if res.ErrorCount() > 0 {
		return errors.New("the run had errors")
	}
	return nil
}

// setTransports puts the receivers of t on transport at its addresses and
// the senders on senderTransport at senderRelay (each defaulting to the
// receivers'), with a TLS configuration if either runs over TLS.
func setTransports(t *load.Target, transport, senderTransport, senderRelay, ca string, insecure bool) error {
	recv, err := load.ParseTransport(transport)
	if err != nil {
		return fmt.Errorf("--transport: %w", err)
	}
	send := recv
	if senderTransport != "" {
		if send, err = load.ParseTransport(senderTransport); err != nil {
			return fmt.Errorf("--sender-transport: %w", err)
		}
	}
	secure := recv
	if send.Secure() {
		secure = send
	}
	if t.TLS, err = tlsConfig(string(secure), ca, insecure); err != nil {
		return err
	}
	sendAddrs := t.Addrs
	if senderRelay != "" {
		sendAddrs = strings.Split(senderRelay, ",")
	}
	if send == recv && senderRelay == "" && !recv.WebSocket() {
		return nil // Addrs over tls when TLS is set, else tcp
	}
	t.Receiver = &load.Side{Transport: recv, Addrs: t.Addrs}
	t.Sender = &load.Side{Transport: send, Addrs: sendAddrs}
	return nil
}

// writeJSON writes v to path as indented JSON; an empty path writes nothing.
func writeJSON(path string, v any) error {
	if path == "" {
		return nil
	}
	b, err := json.MarshalIndent(v, "", "  ")
	if err == nil {
		err = os.WriteFile(path, append(b, '\n'), 0o644)
	}
	if err != nil {
		return fmt.Errorf("--json: %w", err)
	}
	return nil
}

// flagSet reports whether the command line set the named flag.
func flagSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}
