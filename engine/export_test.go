package engine

// What the external tests (package engine_test, on enginetest's fake
// driver) may see of the core's insides.

// Backlog is what senders to c weigh against HighWater: queued bytes and
// what the driver holds unsent.
func (c *Conn) Backlog() int64 { return c.out.backlog() }
