package engine

import "github.com/msrprelay/msrprelay/codec"

// Worker is a driver goroutine's scratch space (for gnet, one per event
// loop): the engine parses and builds frames in it so that the hot path
// allocates nothing. A Worker is used by one goroutine at a time.
type Worker struct {
	frame   codec.Frame
	scratch []byte
	extra   []byte
	due     []*txn
}
