package engine

// What the core does differently for a connection from a WebSocket
// listener (RFC 7977): the driver turns bytes into WebSocket frames and
// back, but only the core knows where an MSRP frame ends (each is one
// WebSocket message) and when a quiet connection should be pinged.

// Pinger is a Link that can check its peer without MSRP: a WebSocket link
// sends a Ping frame. The engine pings WebSocket connections that were
// quiet for Config.WSPing, so proxies and NATs keep them open.
type Pinger interface {
	Ping()
}

// keepAlive pings a quiet WebSocket connection, at most once per WSPing.
// Only the timers call it.
func (c *Conn) keepAlive(now int64) {
	every := int64(c.relay.cfg.WSPing)
	if c.lis == nil || !c.lis.WebSocket || now-c.lastActive.Load() < every || now-c.pinged < every {
		return
	}
	l := c.link.Load()
	if l == nil {
		return
	}
	if p, ok := (*l).(Pinger); ok {
		c.pinged = now
		p.Ping()
	}
}
