package conncap

import (
	"errors"
	"net"
	"strings"
)

// Listener is one listening socket and whether it serves TLS (msrps).
type Listener struct {
	net.Listener
	Secure bool
}

// Listen opens every "tcp://host:port" or "tls://host:port" spec (a bare
// host:port is tcp). tls listeners need TLS configured (haveTLS). On error
// the listeners already opened are closed.
func Listen(specs []string, haveTLS bool) ([]Listener, error) {
	var out []Listener
	fail := func(err error) ([]Listener, error) {
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
		if scheme != "tcp" && scheme != "tls" {
			return fail(errors.New("listen " + spec + ": scheme must be tcp:// or tls://"))
		}
		if scheme == "tls" && !haveTLS {
			return fail(errors.New("listen " + spec + ": tls listener without TLS options"))
		}
		ln, err := net.Listen("tcp", hp)
		if err != nil {
			return fail(err)
		}
		out = append(out, Listener{Listener: ln, Secure: scheme == "tls"})
	}
	return out, nil
}
