package engine

// Counter names what Metrics counts. The daemon exports them to Prometheus;
// the engine only counts.
type Counter int

const (
	ConnsOpened Counter = iota
	ConnsClosed
	ConnsRefused
	SessionsCreated
	SessionsEnded
	FramesIn
	FramesForwarded
	BytesIn
	BytesOut
	AuthOK
	AuthFailures
	ReportsSent
	ProtocolErrors // 4xx answers and closes for bad input
	TransactionTimeouts
	SenderPauses   // a sender stopped reading until its target drains (backpressure)
	Panics         // a bug caught while handling one connection: it was closed, the process went on
	DialsRefused   // a next hop not dialed: too many next hops, or one session dialing too many
	LogsSuppressed // log lines dropped by the per-event, per-source rate limit
	numCounters
)

var counterNames = [numCounters]string{
	ConnsOpened:         "connections_opened",
	ConnsClosed:         "connections_closed",
	ConnsRefused:        "connections_refused",
	SessionsCreated:     "sessions_created",
	SessionsEnded:       "sessions_ended",
	FramesIn:            "frames_received",
	FramesForwarded:     "frames_forwarded",
	BytesIn:             "bytes_received",
	BytesOut:            "bytes_sent",
	AuthOK:              "auth_successes",
	AuthFailures:        "auth_failures",
	ReportsSent:         "reports_generated",
	ProtocolErrors:      "protocol_errors",
	TransactionTimeouts: "transaction_timeouts",
	SenderPauses:        "sender_pauses",
	Panics:              "panics",
	DialsRefused:        "dials_refused",
	LogsSuppressed:      "log_lines_suppressed",
}

// Name is the counter's metric name (without namespace).
func (c Counter) Name() string { return counterNames[c] }

// NumCounters is the number of counters, for exporters that iterate.
const NumCounters = int(numCounters)

// Metrics receives counts. Implementations must be safe for concurrent use
// and cheap: they are called on the event loops.
type Metrics interface {
	Add(c Counter, n int64)
}

type nopMetrics struct{}

func (nopMetrics) Add(Counter, int64) {}
