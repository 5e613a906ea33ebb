package engine

import (
	"time"

	"github.com/rs/zerolog"

	"github.com/msrprelay/msrprelay/codec"
	"github.com/msrprelay/msrprelay/digest"
)

// Config is the relay's policy. The zero value of every field means the
// default documented on it; New validates and fills it in once.
type Config struct {
	// Hostname is the host put in Use-Path URIs and recognised as this
	// relay in To-Path. Required.
	Hostname string
	// Aliases are further hosts that name this relay in To-Path (for
	// example the listen address).
	Aliases []string
	// Realm for digest challenges; empty means the AUTH To-Path host.
	Realm string
	// Domains, when set, restricts the To-Path hosts an AUTH may name.
	Domains []string
	// Credentials is the user store. Reload it with Relay.SetCredentials.
	Credentials *digest.Credentials
	// Users, when set, is asked instead of Credentials (a database).
	Users UserStore
	// Accounting, when set, receives a record of every session that ends.
	Accounting Accounting

	ExpiresMin     time.Duration // default 60 s
	ExpiresDefault time.Duration // default 30 min
	ExpiresMax     time.Duration // default 2 h

	// TransactionTimeout is how long a forwarded SEND may wait for its
	// next hop's response (RFC 4976 §6.4.1). Default 30 s.
	TransactionTimeout time.Duration
	// ProbationTimeout is how long a new connection has to make its first
	// successful request (RFC 4976 §6.1). Default 30 s.
	ProbationTimeout time.Duration
	// IdleTimeout closes a connection with no session that has been quiet
	// this long (RFC 4976 §6.5). Default 1 h.
	IdleTimeout time.Duration
	// HopIdleTimeout closes a connection this relay dialed to a next hop
	// after this long without traffic: dials cost file descriptors shared
	// with inbound clients. Default 2 min.
	HopIdleTimeout time.Duration
	// MaxNextHops bounds the connections this relay dials (one per next
	// hop); requests for a new next hop beyond it fail (408). Default 256.
	MaxNextHops int
	// MaxDialsPerSession bounds the next-hop connections one session's
	// requests may make this relay dial per minute. Default 8.
	MaxDialsPerSession int
	// DialBackoff is how long a next hop whose dial failed is not dialed
	// again: requests for it fail at once (408). Default 10 s.
	DialBackoff time.Duration
	// NonceTTL is how long a digest nonce stays fresh. Default 5 min.
	NonceTTL time.Duration
	// MaxAuthFailures closes a connection after this many failed AUTHs.
	// Default 3.
	MaxAuthFailures int
	// AuthFailureDelay delays the answer to a failed AUTH from a source
	// address that has failed more than MaxAuthFailures times recently.
	// Default 1 s.
	AuthFailureDelay time.Duration
	// MaxSessionsPerConn bounds the sessions one connection may hold.
	// Default 64.
	MaxSessionsPerConn int

	// AllowMethods, when set, is the set of request methods forwarded;
	// others get 501. Empty forwards every method (RFC 4976 §6.4.2).
	AllowMethods []string

	// HighWater and LowWater bound the bytes queued toward one connection:
	// senders pause above HighWater and resume below LowWater.
	// Defaults 1 MiB and 256 KiB.
	HighWater int64
	LowWater  int64
	// RelayWindow bounds, per sending client, the bytes of SEND chunks
	// forwarded onto connections shared with other relays whose
	// hop-by-hop 200s have not come back; the client pauses beyond it. A
	// relay receiving on a shared connection holds those 200s back while
	// the chunk's target is congested, so a stalled receiver pauses its
	// own sender, not the connection every session shares. A target
	// reached through a shared connection pauses that connection only
	// past HighWater plus four windows (a peer relay that ignores the
	// window). Default 1 MiB.
	RelayWindow int64
	// MaxPendingTransactions bounds forwarded requests awaiting a response
	// on one connection; senders pause above it. Default 4096.
	MaxPendingTransactions int

	// WSMaxChunk bounds the body of each chunk sent to a WebSocket client
	// (RFC 7977): each chunk is one WebSocket message, which a browser
	// holds whole, so longer chunks are cut into pieces this long. At
	// least minChunk. Default 64 KiB.
	WSMaxChunk int64
	// WSPing is how long a WebSocket connection may be quiet before the
	// relay pings it, so that proxies and NATs on the way keep it open.
	// Default 30 s.
	WSPing time.Duration

	// Limits bounds the parser (codec defaults when zero).
	Limits codec.Limits

	Logger  zerolog.Logger
	Metrics Metrics
	// Now is the clock; nil means time.Now. Tests set it.
	Now func() time.Time
	// TestHook, nil in production, is called with each request's method
	// before the relay handles it: tests panic in it to prove that a bug
	// in one connection's handling costs that connection only.
	TestHook func(method []byte)
}

func (c *Config) fill() error {
	if c.Hostname == "" {
		return errConfig("Hostname is required")
	}
	setDur(&c.ExpiresMin, 60*time.Second)
	setDur(&c.ExpiresDefault, 30*time.Minute)
	setDur(&c.ExpiresMax, 2*time.Hour)
	if c.ExpiresMin > c.ExpiresDefault || c.ExpiresDefault > c.ExpiresMax {
		return errConfig("need ExpiresMin <= ExpiresDefault <= ExpiresMax")
	}
	setDur(&c.TransactionTimeout, 30*time.Second)
	setDur(&c.ProbationTimeout, 30*time.Second)
	setDur(&c.IdleTimeout, time.Hour)
	setDur(&c.NonceTTL, 5*time.Minute)
	setDur(&c.HopIdleTimeout, 2*time.Minute)
	setDur(&c.DialBackoff, 10*time.Second)
	if c.MaxNextHops <= 0 {
		c.MaxNextHops = 256
	}
	if c.MaxDialsPerSession <= 0 {
		c.MaxDialsPerSession = 8
	}
	setDur(&c.AuthFailureDelay, time.Second)
	if c.MaxAuthFailures <= 0 {
		c.MaxAuthFailures = 3
	}
	if c.MaxSessionsPerConn <= 0 {
		c.MaxSessionsPerConn = 64
	}
	if c.HighWater <= 0 {
		c.HighWater = 1 << 20
	}
	if c.LowWater <= 0 || c.LowWater >= c.HighWater {
		c.LowWater = c.HighWater / 4
	}
	if c.RelayWindow <= 0 {
		c.RelayWindow = 1 << 20
	}
	if c.MaxPendingTransactions <= 0 {
		c.MaxPendingTransactions = 4096
	}
	if c.WSMaxChunk <= 0 {
		c.WSMaxChunk = DefaultWSMaxChunk
	}
	if c.WSMaxChunk < minChunk {
		return errConfig("WSMaxChunk below 2048 bytes (RFC 4975 §7.1.1 chunks)")
	}
	setDur(&c.WSPing, 30*time.Second)
	c.Limits = c.Limits.WithDefaults()
	if c.Metrics == nil {
		c.Metrics = nopMetrics{}
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return nil
}

// DefaultWSMaxChunk is Config.WSMaxChunk's default: the most a whole
// chunk forwarded at once carries (maxAtomic), so only longer chunks are
// cut for WebSocket clients.
const DefaultWSMaxChunk = maxAtomic

func setDur(d *time.Duration, def time.Duration) {
	if *d <= 0 {
		*d = def
	}
}

type errConfig string

func (e errConfig) Error() string { return "engine config: " + string(e) }
