package engine

// Counter names what Metrics counts. The daemon exports them to Prometheus;
// the engine only counts.
type Counter int

const (
	ConnsOpened Counter = iota // over TCP
	ConnsOpenedTLS
	ConnsOpenedWS
	ConnsOpenedWSS
	ConnsClosed // by the peer, or the network failed
	ConnsClosedIdle
	ConnsClosedProbation
	ConnsClosedAuthFailures
	ConnsClosedRefusals
	ConnsClosedProtocolError
	ConnsClosedPanic
	ConnsRefused
	SessionsCreated
	SessionsEnded
	FramesIn
	FramesForwarded
	BytesIn
	BytesOut
	AuthOK
	AuthFailures // wrong credentials
	AuthFailReplays
	AuthFailRefused
	ReportsSent
	ProtocolErrors // 4xx answers and closes for bad input
	TransactionTimeouts
	SenderPauses   // a sender stopped reading until its target drains (backpressure)
	Panics         // a bug caught while handling one connection: it was closed, the process went on
	DialsRefused   // a next hop not dialed: too many next hops, or one session dialing too many
	LogsSuppressed // log lines dropped by the per-event, per-source rate limit
	AuthStoreLookups
	AuthStoreErrors
	AccountingWritten
	AccountingDropped
	AccountingWriteErrors
	numCounters
)

// counterInfo is each counter's metric name (without namespace, units
// last) and what it counts, for an operator reading the metric's HELP.
// Counters sharing a name are one metric told apart by a label; the first
// of them carries the help.
var counterInfo = [numCounters]struct{ name, help, label, value string }{
	ConnsOpened:              {"connections_opened", "Connections accepted or dialed, by transport.", "transport", "tcp"},
	ConnsOpenedTLS:           {"connections_opened", "", "transport", "tls"},
	ConnsOpenedWS:            {"connections_opened", "", "transport", "ws"},
	ConnsOpenedWSS:           {"connections_opened", "", "transport", "wss"},
	ConnsClosed:              {"connections_closed", "Connections closed, by reason: peer (the peer closed or the network failed), idle, probation (no successful request in time), auth_failures, refusals (refused requests before any success), protocol_error, panic (a bug: report it).", "reason", "peer"},
	ConnsClosedIdle:          {"connections_closed", "", "reason", "idle"},
	ConnsClosedProbation:     {"connections_closed", "", "reason", "probation"},
	ConnsClosedAuthFailures:  {"connections_closed", "", "reason", "auth_failures"},
	ConnsClosedRefusals:      {"connections_closed", "", "reason", "refusals"},
	ConnsClosedProtocolError: {"connections_closed", "", "reason", "protocol_error"},
	ConnsClosedPanic:         {"connections_closed", "", "reason", "panic"},
	ConnsRefused:             {"connections_refused", "Connections refused at accept: connection caps, or shutting down.", "", ""},
	SessionsCreated:          {"sessions_created", "Sessions created by a successful AUTH.", "", ""},
	SessionsEnded:            {"sessions_ended", "Sessions ended: connection closed, expired or idle.", "", ""},
	FramesIn:                 {"frames_received", "MSRP frames (requests and responses) received.", "", ""},
	FramesForwarded:          {"frames_forwarded", "Complete frames queued toward a next hop or a client.", "", ""},
	BytesIn:                  {"received_bytes", "Bytes read from peers (after TLS).", "", ""},
	BytesOut:                 {"sent_bytes", "Bytes written to peers (before TLS).", "", ""},
	AuthOK:                   {"auth_successes", "AUTH requests accepted (new sessions and refreshes).", "", ""},
	AuthFailures:             {"auth_failures", "AUTH requests refused, by verdict: credentials (wrong password or unknown user), replay (a nonce count used again), refused (malformed, a domain not served, Expires out of bounds, limits).", "verdict", "credentials"},
	AuthFailReplays:          {"auth_failures", "", "verdict", "replay"},
	AuthFailRefused:          {"auth_failures", "", "verdict", "refused"},
	ReportsSent:              {"reports_generated", "Failure REPORTs this relay generated.", "", ""},
	ProtocolErrors:           {"protocol_errors", "Requests refused (4xx) and connections closed for bad input.", "", ""},
	TransactionTimeouts:      {"transaction_timeouts", "Forwarded requests whose next hop did not answer in time.", "", ""},
	SenderPauses:             {"sender_pauses", "Times a sender stopped being read until its receiver drained: a sign of slow receivers.", "", ""},
	Panics:                   {"panics", "Bugs caught while handling one connection: that connection was closed, the process went on. Report them.", "", ""},
	DialsRefused:             {"dials_refused", "Next hops not dialed: too many next hops, or one session dialing too many.", "", ""},
	LogsSuppressed:           {"log_lines_suppressed", "Log lines dropped by the per-event, per-source rate limit.", "", ""},
	AuthStoreLookups:         {"auth_database_lookups", "AUTHs that waited for the user database: the user was not in the cache.", "", ""},
	AuthStoreErrors:          {"auth_database_errors", "AUTHs answered 500 because the user database failed or did not answer within --db-timeout.", "", ""},
	AccountingWritten:        {"accounting_records_written", "Session records written to the accounting database.", "", ""},
	AccountingDropped:        {"accounting_records_dropped", "Session records lost: the accounting queue was full (database down or slow) or the relay stopped before writing them.", "", ""},
	AccountingWriteErrors:    {"accounting_write_errors", "Failed writes to the accounting database; their records stay queued and are retried.", "", ""},
}

// Name is the counter's metric name (without namespace).
func (c Counter) Name() string { return counterInfo[c].name }

// Help says what the counter's metric counts; it is empty for the second
// and later counters of a labelled metric.
func (c Counter) Help() string { return counterInfo[c].help }

// Label is the label telling this counter apart from the others of its
// metric, and its value; empty for a metric of one counter.
func (c Counter) Label() (name, value string) { return counterInfo[c].label, counterInfo[c].value }

// NumCounters is the number of counters, for exporters that iterate.
const NumCounters = int(numCounters)

// Metrics receives counts. Implementations must be safe for concurrent use
// and cheap: they are called on the event loops.
type Metrics interface {
	Add(c Counter, n int64)
}

type nopMetrics struct{}

func (nopMetrics) Add(Counter, int64) {}
