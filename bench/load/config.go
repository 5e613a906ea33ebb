package load

import (
	"crypto/tls"
	"errors"
	"fmt"
	"time"

	"github.com/msrprelay/msrprelay/endpoint"
)

// Kind is what the target is.
type Kind int

const (
	// KindRelay is an MSRP relay: endpoints AUTH before sending.
	KindRelay Kind = iota
	// KindForwarder is the plain TCP forwarder (package forwarder): no AUTH;
	// each pair dials bob then alice and the forwarder splices them.
	KindForwarder
)

// Topology is how a pair's messages cross the relay.
type Topology int

const (
	// Single: alice connects straight to bob's relay, To-Path
	// "<bob Use-Path> <bob>".
	Single Topology = iota
	// Shared: alice AUTHs on the same relay, To-Path
	// "<alice Use-Path> <bob Use-Path> <bob>".
	Shared
)

func (t Topology) String() string {
	if t == Shared {
		return "shared"
	}
	return "single"
}

// ParseTopology reads "single" or "shared".
func ParseTopology(s string) (Topology, error) {
	switch s {
	case "single", "":
		return Single, nil
	case "shared":
		return Shared, nil
	}
	return 0, fmt.Errorf("topology %q: want single or shared", s)
}

// Target is the relay under test.
type Target struct {
	// Name labels results ("gnet", "kamailio", ...).
	Name string
	// Addrs are relay addresses (host:port, loopback only); pair i uses
	// Addrs[i%len(Addrs)].
	Addrs []string
	Kind  Kind
	// TLS, when not nil, makes every connection on Addrs msrps; it is
	// also the client configuration of a Sender or Receiver on tls or wss.
	TLS *tls.Config
	// Sender and Receiver, when set, are where alice (who sends) or bob
	// (who receives) of every pair connects instead of Addrs, over a
	// transport of their own: both on ws for chat over WebSocket, or alice
	// on wss and bob on tcp for a file from a browser to a desktop client.
	Sender, Receiver *Side
	// RealmHost is the host of the AUTH To-Path URI (the user's domain).
	RealmHost string
	User      string
	Password  string
	AuthForm  endpoint.AuthForm
	// PID, when not zero, is the relay process whose CPU and memory are
	// sampled; PIDs adds further processes of the same relay.
	PID  int
	PIDs []int
	// NoSourceSpread keeps every socket on the default source address;
	// otherwise sockets spread over 127.0.0.2, 127.0.0.3, ... so that
	// thousands of pairs never run out of ephemeral ports.
	NoSourceSpread bool
}

// Scenario is the load.
type Scenario struct {
	Name     string
	Pairs    int
	Window   int // undelivered SENDs in flight per pair; 0 means 1
	BodySize int // 0 means 100
	Topology Topology
	// FileSize, when above zero, makes each pair send one message of that
	// many bytes (a file transfer) in chunks of BodySize (default 64 KiB),
	// every chunk stamped and checked on its own; Messages and Duration
	// are then ignored.
	FileSize int64
	// ReceiveRate, when above zero, limits how fast each receiver reads, in
	// bytes per second: the relay must then hold its sender back rather
	// than buffer.
	ReceiveRate float64
	// Messages in total, or, when zero, send for Duration.
	Messages int64
	Duration time.Duration
	// Rate in messages per second over all pairs (open loop); 0 is closed
	// loop: each pair sends as fast as its window lets it.
	Rate float64
	// StallTimeout ends a run in which nothing was delivered for that long;
	// undelivered messages then count as lost. 0 means 5 s.
	StallTimeout time.Duration
	// SetupParallel is how many pairs set up at once; 0 means 32.
	SetupParallel int
	// Progress, when not nil, is called about once a second during traffic.
	Progress func(Progress) `json:"-"`
}

// Progress is a snapshot during a run.
type Progress struct {
	Elapsed   time.Duration
	Sent      int64
	Delivered int64
	Errors    int64
}

func (s *Scenario) withDefaults() (Scenario, error) {
	o := *s
	if o.Pairs <= 0 {
		return o, errors.New("scenario needs at least one pair")
	}
	if o.Window <= 0 {
		o.Window = 1
	}
	if o.BodySize == 0 {
		o.BodySize = 100
		if o.FileSize > 0 {
			o.BodySize = 64 << 10
		}
	}
	if o.FileSize > 0 {
		o.Messages = 0
		o.Duration = 0
		if o.FileSize < int64(o.BodySize) {
			return o, fmt.Errorf("file of %d bytes in chunks of %d: at least one whole chunk", o.FileSize, o.BodySize)
		}
		if o.FileSize-(o.fileChunks()-1)*int64(o.BodySize) < MinBodySize {
			return o, fmt.Errorf("file of %d bytes: its last chunk would be shorter than a stamp (%d bytes)", o.FileSize, MinBodySize)
		}
		return o.finish()
	}
	if o.BodySize < MinBodySize {
		return o, fmt.Errorf("body size %d: at least %d bytes carry the stamp", o.BodySize, MinBodySize)
	}
	return o.finish()
}

func (o Scenario) finish() (Scenario, error) {
	if o.Messages <= 0 && o.Duration <= 0 && o.FileSize <= 0 {
		return o, errors.New("scenario needs Messages or Duration")
	}
	if o.Messages > 0 && o.Messages < int64(o.Pairs) {
		return o, fmt.Errorf("%d messages for %d pairs: every pair sends at least one", o.Messages, o.Pairs)
	}
	if o.StallTimeout <= 0 {
		o.StallTimeout = 5 * time.Second
	}
	if o.SetupParallel <= 0 {
		o.SetupParallel = 32
	}
	return o, nil
}

func (t *Target) validate() error {
	for _, s := range []Side{t.side(t.Sender), t.side(t.Receiver)} {
		if len(s.Addrs) == 0 {
			return errors.New("target has no address")
		}
		if _, err := ParseTransport(string(s.Transport)); err != nil {
			return err
		}
		if s.Transport.Secure() && t.TLS == nil {
			return fmt.Errorf("%s needs a TLS client configuration", s.Transport)
		}
	}
	if t.Kind == KindRelay && (t.User == "" || t.RealmHost == "") {
		return errors.New("a relay target needs a user and a realm host")
	}
	return nil
}

// side is where one endpoint of each pair connects: s, or else Addrs over
// tls when TLS is set and tcp otherwise.
func (t *Target) side(s *Side) Side {
	if s != nil {
		return *s
	}
	if t.TLS != nil {
		return Side{Transport: TransportTLS, Addrs: t.Addrs}
	}
	return Side{Transport: TransportTCP, Addrs: t.Addrs}
}

// Transports says how the pairs connect: "tcp", "ws", or "wss to tcp"
// when sender and receiver differ.
func (t *Target) Transports() string {
	s, r := t.side(t.Sender).Transport, t.side(t.Receiver).Transport
	if s == r {
		return string(s)
	}
	return string(s) + " to " + string(r)
}

// fileChunks is how many SENDs a pair's file takes.
func (s *Scenario) fileChunks() int64 {
	return (s.FileSize + int64(s.BodySize) - 1) / int64(s.BodySize)
}
