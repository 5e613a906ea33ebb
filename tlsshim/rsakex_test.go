package tlsshim

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"testing"
	"time"
)

// TestRSAKeyExchangeWhenListed pins what --tls-rsa-kex relies on: Go no
// longer offers TLS_RSA_WITH_AES_128_CBC_SHA (RFC 4976 §9.2's mandatory
// suite) by default, but negotiates it when both sides list it explicitly,
// with an RSA certificate, under TLS 1.2.
func TestRSAKeyExchangeWhenListed(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "relay.test"}, DNSNames: []string{"relay.test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(der)
	cert := tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	suite := []uint16{tls.TLS_RSA_WITH_AES_128_CBC_SHA}
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	defer ln.Close()
	done := make(chan *Session, 1)
	go func() {
		raw, err := ln.Accept()
		if err != nil {
			done <- nil
			return
		}
		s, err := Server(raw, &tls.Config{Certificates: []tls.Certificate{cert}, CipherSuites: suite, MaxVersion: tls.VersionTLS12}, 5*time.Second)
		if err != nil {
			t.Error(err)
		}
		done <- s
	}()
	c, err := tls.Dial("tcp", ln.Addr().String(), &tls.Config{RootCAs: pool, ServerName: "relay.test", CipherSuites: suite, MaxVersion: tls.VersionTLS12})
	if err != nil {
		t.Fatalf("RSA key exchange refused: %v", err)
	}
	defer c.Close()
	s := <-done
	if s == nil || s.State().CipherSuite != tls.TLS_RSA_WITH_AES_128_CBC_SHA {
		t.Fatal("suite not negotiated")
	}
}
