package netdrv

import (
	"crypto/tls"
	"testing"
)

// TestBrowserTLSAsksNoCertificate: wss listeners use the msrps
// configuration without the client-certificate request (Chromium aborts a
// cross-origin WebSocket handshake that gets one), one copy per
// configuration.
func TestBrowserTLSAsksNoCertificate(t *testing.T) {
	var b browserTLS
	msrps := &tls.Config{ClientAuth: tls.RequestClientCert, MinVersion: tls.VersionTLS12}
	got := b.config(msrps)
	if got.ClientAuth != tls.NoClientCert || got.MinVersion != tls.VersionTLS12 || msrps.ClientAuth != tls.RequestClientCert {
		t.Fatalf("wss config %v (msrps %v)", got.ClientAuth, msrps.ClientAuth)
	}
	if b.config(msrps) != got {
		t.Fatal("a new copy per handshake")
	}
	reloaded := &tls.Config{ClientAuth: tls.RequestClientCert}
	if again := b.config(reloaded); again == got || again.ClientAuth != tls.NoClientCert {
		t.Fatal("a reloaded configuration is not copied anew")
	}
	plain := &tls.Config{}
	if b.config(plain) != plain {
		t.Fatal("a configuration that asks nothing is copied")
	}
}
