package compare

import (
	"time"

	"github.com/msrprelay/msrprelay/bench/load"
)

// Scenarios are the loads every target runs: the peers' table
// (docs: peers.md) minus what needs more than one relay.
func Scenarios() []load.Scenario {
	sc := func(name string, pairs, window, body int, topo load.Topology) load.Scenario {
		return load.Scenario{Name: name, Pairs: pairs, Window: window, BodySize: body, Topology: topo}
	}
	return []load.Scenario{
		sc("1/1", 1, 1, 100, load.Single),
		sc("10/4", 10, 4, 100, load.Single),
		sc("10/16", 10, 16, 100, load.Single),
		sc("100/2", 100, 2, 100, load.Single),
		sc("1000/1", 1000, 1, 100, load.Single),
		sc("10/4 4000B", 10, 4, 4000, load.Single),
		sc("shared 10/4", 10, 4, 100, load.Shared),
	}
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

func (o Options) scenarios() []load.Scenario {
	all := Scenarios()
	if len(o.Only) == 0 {
		return all
	}
	var out []load.Scenario
	for _, s := range all {
		for _, name := range o.Only {
			if s.Name == name {
				out = append(out, s)
			}
		}
	}
	return out
}
