// Package compare runs the same load scenarios against several relays back
// to back (msrprelay's two engines as child processes, the plain TCP
// forwarder, optionally a peer such as Kamailio) and reports them side by
// side, with ratios against the gnet engine, as JSON, Markdown and an SVG
// of latency percentiles. Absolute figures drift on shared machines;
// ratios from one invocation are what it is for. It also owns the human
// table of a single run.
package compare
