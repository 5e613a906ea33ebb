package netdrv

import (
	"errors"
	"net"
	"strings"
)

// Kind is what a listening socket serves: what happens to an accepted
// connection before the relay core sees its bytes.
type Kind uint8

const (
	// Plain is MSRP over TCP: the bytes are MSRP from the first.
	Plain Kind = iota
	// TLS is msrps: a TLS handshake first (RFC 4976 §9.2).
	TLS
	// WS is MSRP over WebSocket (RFC 7977): an HTTP upgrade first, then
	// MSRP in WebSocket messages.
	WS
	// WSS is WS after a TLS handshake.
	WSS
)

// Secure says whether the kind runs TLS.
func (k Kind) Secure() bool { return k == TLS || k == WSS }

// WebSocket says whether the kind carries MSRP in WebSocket messages.
func (k Kind) WebSocket() bool { return k == WS || k == WSS }

// kindOf maps a listen spec's scheme to its kind.
var kindOf = map[string]Kind{"tcp": Plain, "tls": TLS, "ws": WS, "wss": WSS}

// ListenSocket is one listening socket and the kind of connections it
// serves. (engine.Listener is what the relay core knows of it.)
type ListenSocket struct {
	net.Listener
	Kind Kind
}

// Listen opens every "tcp://", "tls://", "ws://" or "wss://host:port"
// spec (a bare host:port is tcp). tls and wss listeners need TLS
// configured (haveTLS). On error the listeners already opened are closed.
func Listen(specs []string, haveTLS bool) ([]ListenSocket, error) {
	var out []ListenSocket
	fail := func(err error) ([]ListenSocket, error) {
		for _, l := range out {
			l.Close()
		}
		return nil, err
	}
	for _, spec := range specs {
		scheme, hp, ok := strings.Cut(spec, "://")
		if !ok {
			scheme, hp = "tcp", spec
		}
		kind, known := kindOf[scheme]
		if !known {
			return fail(errors.New("listen " + spec + ": scheme must be tcp://, tls://, ws:// or wss://"))
		}
		if kind.Secure() && !haveTLS {
			return fail(errors.New("listen " + spec + ": " + scheme + " listener without TLS options"))
		}
		ln, err := net.Listen("tcp", hp)
		if err != nil {
			return fail(err)
		}
		out = append(out, ListenSocket{Listener: ln, Kind: kind})
	}
	return out, nil
}
