package engine

import (
	"net/netip"
	"time"
)

// Accounting receives a Record for every session that ends (engine/
// accounting writes them to SQL). Record is called on event loops and
// timers: it must not block.
type Accounting interface {
	Record(Record)
}

// Record is one ended session, as an operator bills or audits it.
type Record struct {
	Session string // a prefix of the session id, as in the logs
	User    string
	Realm   string
	Remote  netip.AddrPort // the client's address (the AUTH's connection)
	Start   time.Time
	End     time.Time
	Reason  string // connection closed, expired, idle
	// Body bytes and requests from the client and toward it.
	BytesFromClient, BytesToClient       int64
	RequestsFromClient, RequestsToClient int64
	Relay                                string // this relay's hostname
}

func (r *Relay) sessionRecord(s *Session, why string) Record {
	return Record{
		Session: s.logID, User: s.user, Realm: s.realm, Remote: s.owner.remote,
		Start: time.Unix(0, s.created), End: time.Unix(0, r.now()), Reason: why,
		BytesFromClient: s.bytesFromClient.Load(), BytesToClient: s.bytesToClient.Load(),
		RequestsFromClient: s.reqsFromClient.Load(), RequestsToClient: s.reqsToClient.Load(),
		Relay: r.cfg.Hostname,
	}
}
