package compare

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/msrprelay/msrprelay/bench/load"
)

// CaseKind is what a case measures.
type CaseKind string

const (
	// Messages: pairs exchanging separate SENDs (load.Run).
	Messages CaseKind = "messages"
	// File: one large message per pair in chunks, as fast as the
	// receiver takes it (load.Run with FileSize).
	File CaseKind = "file"
	// Handshakes: TLS connections completed per second (load.Handshakes).
	Handshakes CaseKind = "handshakes"
)

// Case is one scenario of the comparison and what a target needs to run it.
type Case struct {
	load.Scenario
	Kind CaseKind
	// TLS runs the case over msrps: only targets with a TLS listener.
	TLS bool
	// Sender and Receiver, when set, are the transports of the pairs'
	// two ends (ws, wss, or a wss sender into a tcp receiver): only
	// targets with those listeners.
	Sender, Receiver load.Transport
	// RelaysOnly leaves the forwarder out (a throttled receiver says
	// nothing about it).
	RelaysOnly bool
}

// Sizes of the file cases: the bench issue's 1 GiB in 64 KiB chunks. The
// throttled receiver reads at throttledRate, so that case takes about
// four seconds per target.
const (
	fileSize      = 1 << 30
	fileChunk     = 64 << 10
	throttledRate = 256 << 20
	// fileWindow lets every chunk be in flight: only TCP and the relay's
	// own flow control hold the sender back, as in a real file transfer.
	fileWindow = fileSize / fileChunk
	// handshakeClients connect in parallel in the handshake case.
	handshakeClients = 8
)

// Cases are the loads every target runs: the peers' table (docs:
// peers.md) minus what needs more than one relay, the same over TLS, TLS
// handshakes, a 1 GiB file at full speed and into a slow receiver, and
// MSRP over WebSocket: chat 10/4 over ws and wss, and the file from a
// browser (wss) into a desktop client on tcp, beside the same from an
// msrps client.
func Cases() []Case {
	msgs := func(name string, pairs, window, body int, topo load.Topology) Case {
		return Case{Kind: Messages, Scenario: load.Scenario{Name: name, Pairs: pairs, Window: window, BodySize: body, Topology: topo}}
	}
	tcp := []Case{
		msgs("1/1", 1, 1, 100, load.Single),
		msgs("10/4", 10, 4, 100, load.Single),
		msgs("10/16", 10, 16, 100, load.Single),
		msgs("100/2", 100, 2, 100, load.Single),
		msgs("1000/1", 1000, 1, 100, load.Single),
		msgs("10/4 4000B", 10, 4, 4000, load.Single),
		msgs("shared 10/4", 10, 4, 100, load.Shared),
	}
	cases := slices.Clone(tcp)
	for _, c := range tcp {
		if c.Topology == load.Single {
			c.Name = "TLS " + c.Name
			c.TLS = true
			cases = append(cases, c)
		}
	}
	file := func(name string) load.Scenario {
		return load.Scenario{Name: name, Pairs: 1, Window: fileWindow, BodySize: fileChunk, FileSize: fileSize}
	}
	over := func(c Case, name string, sender, receiver load.Transport) Case {
		c.Name, c.Sender, c.Receiver = name, sender, receiver
		return c
	}
	chat := msgs("10/4", 10, 4, 100, load.Single)
	fileCase := Case{Kind: File, Scenario: file("1 GiB file")}
	slow := Case{Kind: File, RelaysOnly: true, Scenario: file("1 GiB slow receiver")}
	slow.ReceiveRate = throttledRate
	return append(cases,
		Case{Kind: Handshakes, TLS: true, Scenario: load.Scenario{Name: "TLS handshakes", Pairs: handshakeClients}},
		fileCase,
		slow,
		over(chat, "WS 10/4", load.TransportWS, load.TransportWS),
		over(chat, "WSS 10/4", load.TransportWSS, load.TransportWSS),
		over(fileCase, "1 GiB file tls to tcp", load.TransportTLS, load.TransportTCP),
		over(fileCase, "1 GiB file wss to tcp", load.TransportWSS, load.TransportTCP),
	)
}

// transports are the transports of the case's sender and receiver.
func (c Case) transports() (sender, receiver load.Transport) {
	def := load.TransportTCP
	if c.TLS {
		def = load.TransportTLS
	}
	return cmp.Or(c.Sender, def), cmp.Or(c.Receiver, def)
}

// webSocket is whether either end of the case's pairs is on WebSocket.
func (c Case) webSocket() bool {
	s, r := c.transports()
	return s.WebSocket() || r.WebSocket()
}

// Options configure a comparison. The zero value is a full comparison
// of the two engines and the forwarder.
type Options struct {
	// Quick runs each scenario once per target for PerRun (default 3 s);
	// otherwise Rounds (default 5) alternating rounds of PerRun (default
	// 5 s) and medians.
	Quick  bool
	Rounds int
	PerRun time.Duration
	// Msrprelay is the daemon binary (default ./bin/msrprelay).
	Msrprelay string
	// Kamailio, when set, is a Kamailio msrp relay with digest AUTH
	// (realm myrealm, password xyz123) to compare too.
	Kamailio string
	// KamailioWS and KamailioWSS, when set, are the ws and wss listeners
	// of Kamailio's WebSocket relay (../shared/peers/kamailio-ws-peer,
	// digest AUTH as above), compared on the WebSocket cases.
	KamailioWS, KamailioWSS string
	// Only, when set, restricts the scenarios to these names.
	Only []string
	// Density, when above zero, also measures each engine's memory per
	// idle session with that many sessions (at most MaxDensity) on a fresh
	// relay; DensityActive adds a 100-pair load alongside them.
	Density       int
	DensityActive bool
	// Pin binds every relay to RelayCPU and the generator to another CPU
	// (the bench issue measures relay CPU per message so).
	Pin      bool
	RelayCPU int
	// Log gets progress lines; nil discards them.
	Log func(format string, args ...any)
}

func (o Options) withDefaults() Options {
	if o.Quick {
		o.Rounds = 1
		if o.PerRun <= 0 {
			o.PerRun = 3 * time.Second
		}
	}
	if o.Rounds <= 0 {
		o.Rounds = 5
	}
	if o.PerRun <= 0 {
		o.PerRun = 5 * time.Second
	}
	if o.Msrprelay == "" {
		o.Msrprelay = "./bin/msrprelay"
	}
	if o.Log == nil {
		o.Log = func(string, ...any) {}
	}
	return o
}

// cases are the cases to run: all, or those named in Only. A name that is
// no case is an error, not a comparison that silently runs nothing.
func (o Options) cases() ([]Case, error) {
	all := Cases()
	if len(o.Only) == 0 {
		return all, nil
	}
	var out []Case
	for _, name := range o.Only {
		i := slices.IndexFunc(all, func(c Case) bool { return c.Name == name })
		if i < 0 {
			var names []string
			for _, c := range all {
				names = append(names, c.Name)
			}
			return nil, fmt.Errorf("no scenario %q; the scenarios are: %s", name, strings.Join(names, ", "))
		}
		out = append(out, all[i])
	}
	return out, nil
}
