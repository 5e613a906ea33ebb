package e2etest

// dropCases: peers that vanish or stall while the relay holds their
// traffic (parked senders, slow receivers, resets).
var dropCases = []suiteCase{}
