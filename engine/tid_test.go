package engine

import (
	"testing"

	"github.com/msrprelay/msrprelay/codec"
)

func TestTIDs(t *testing.T) {
	var a, b, p tid
	newTIDPrefix(&a)
	newTIDPrefix(&b)
	if a == b || !codec.ValidTID(a.bytes()) {
		t.Fatalf("%s %s", a.bytes(), b.bytes())
	}
	p.withPiece(&a, 37)
	if string(p.bytes()) != string(a.bytes())+"-11" || !codec.ValidTID(p.bytes()) {
		t.Fatalf("%s", p.bytes())
	}
}
