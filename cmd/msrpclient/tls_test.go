package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/msrprelay/msrprelay/engine/e2etest"
)

// tlsFront terminates TLS on 127.0.0.1 and passes the bytes to the relay:
// the relay's gnet driver speaks plain TCP only, and this exercises the
// client's side of msrps (certificate check against --tls-ca, --insecure).
// It returns the front's address and the CA file that verifies it.
func tlsFront(t *testing.T, relay string) (addr, caFile string) {
	t.Helper()
	cert, caPEM := selfSigned(t)
	caFile = filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, caPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() { defer wg.Done(); pipe(c, relay) }()
		}
	}()
	return ln.Addr().String(), caFile
}

// pipe copies between c and a new connection to addr until either ends.
func pipe(c net.Conn, addr string) {
	defer c.Close()
	r, err := net.Dial("tcp", addr)
	if err != nil {
		return
	}
	defer r.Close()
	done := make(chan struct{}, 2)
	go func() { io.Copy(r, c); done <- struct{}{} }()
	go func() { io.Copy(c, r); done <- struct{}{} }()
	<-done
}

// selfSigned makes a certificate for 127.0.0.1 that is its own CA.
func selfSigned(t *testing.T) (tls.Certificate, []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "msrpclient test relay"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA:                  true,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

// TestTLS: receive over TLS trusting --tls-ca, send over TLS with
// --insecure; without either, the unknown CA stops the send.
func TestTLS(t *testing.T) {
	relay, _ := startRelay(t)
	front, ca := tlsFront(t, relay)
	rr := startReceive(t, append(authArgs(front, "bob"), "--transport", "tls", "--tls-ca", ca, "--count", "1", "--timeout", "15s")...)
	if !strings.Contains(rr.path, " msrps://127.0.0.1:") {
		t.Errorf("path %q: own URI should be msrps", rr.path)
	}
	if _, err := send(t, "--relay", front, "--transport", "tls", "--to-path", rr.path, "--message", "x"); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("send to an unknown CA: %v", err)
	}
	if _, err := send(t, "--relay", front, "--transport", "tls", "--insecure", "--to-path", rr.path, "--message", "over tls"); err != nil {
		t.Fatalf("send: %v", err)
	}
	if line := rr.out.next(t, 10*time.Second); !strings.HasSuffix(line, ";tcp: over tls") {
		t.Errorf("receive printed %q", line)
	}
}

// TestTransportHints: msrpclient defaults to tls, as the relay does; a
// mismatch in either direction, or an untrusted certificate, fails with a
// hint naming the flag that fixes it.
func TestTransportHints(t *testing.T) {
	relay, _ := startRelay(t) // plain TCP
	front, ca := tlsFront(t, relay)
	login := []string{"--user", "bob", "--password", e2etest.Password, "--realm-host", e2etest.Realm, "--timeout", "100ms"}
	run := func(args ...string) error {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		err := runReceive(ctx, append(append([]string{}, login...), args...), &strings.Builder{}, logWriter{t, "receive: "})
		t.Logf("%q: %v", args, err)
		return err
	}
	// The default (no --transport) is tls and works against a TLS relay.
	if err := run("--relay", front, "--tls-ca", ca); err != nil {
		t.Errorf("default transport against TLS: %v", err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--relay", relay}, "--transport tcp"},                           // tls to a tcp:// listener
		{[]string{"--relay", front}, "--tls-ca"},                                  // unknown CA
		{[]string{"--relay", front, "--transport", "tcp"}, "--transport tls"},     // tcp to a TLS listener
		{[]string{"--relay", relay, "--transport", "tcp", "--password", "x"}, ""}, // a real refusal: no hint
	} {
		err := run(tc.args...)
		if err == nil {
			t.Errorf("%q: no error", tc.args)
			continue
		}
		var h *hintError
		if tc.want == "" {
			if errors.As(err, &h) {
				t.Errorf("%q: unexpected hint: %v", tc.args, err)
			}
			continue
		}
		if !errors.As(err, &h) || !strings.Contains(h.hint, tc.want) {
			t.Errorf("%q: %v; want a hint naming %s", tc.args, err, tc.want)
		}
	}
}
