package netdrv

import (
	"time"

	"github.com/rs/zerolog"

	"github.com/msrprelay/msrprelay/tlsshim"
	"github.com/msrprelay/msrprelay/wsshim"
)

// Options are the settings every driver has. The zero value of each field
// means its default.
type Options struct {
	// Listen are the addresses to accept on, as "tcp://host:port" or
	// "tls://host:port".
	Listen []string
	// TLS is needed for tls:// listeners and msrps next hops.
	TLS *tlsshim.Options
	// WebSocket is what ws:// and wss:// listeners accept (the
	// subprotocol is always msrp, RFC 7977).
	WebSocket wsshim.Config
	// MaxConns refuses connections beyond this many (accepted and dialed).
	MaxConns int
	// MaxPerSource refuses connections from one address beyond this many.
	MaxPerSource int
	// TickInterval drives the engine's timers. Default 1 s.
	TickInterval time.Duration
	// DialTimeout bounds name resolution plus connect for next hops (the
	// TLS handshake after it has TLS.HandshakeTimeout). Default 10 s.
	DialTimeout time.Duration
	Logger      zerolog.Logger
}

// DefaultWSMaxMessage bounds a WebSocket message (and frame) from a
// client. The relay streams a message's bytes as they arrive and holds none
// whole, so the bound is policy, not memory: a chunk a client sends in one
// message may be as long as the MSRP chunks TCP clients send in practice.
const DefaultWSMaxMessage = 128 << 20

// Defaults for Options and tlsshim.Options.
const (
	defaultTick             = time.Second
	defaultDialTimeout      = 10 * time.Second
	defaultHandshakeTimeout = 10 * time.Second
)

func (o *Options) setDefaults() {
	if o.TickInterval <= 0 {
		o.TickInterval = defaultTick
	}
	if o.DialTimeout <= 0 {
		o.DialTimeout = defaultDialTimeout
	}
	o.WebSocket.Protocol = "msrp"
	if o.WebSocket.MaxMessage <= 0 {
		o.WebSocket.MaxMessage = DefaultWSMaxMessage
	}
	if o.WebSocket.MaxFrame <= 0 {
		o.WebSocket.MaxFrame = o.WebSocket.MaxMessage
	}
}
