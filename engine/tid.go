package engine

import "math/rand/v2"

// Transaction ids this relay writes: 12 characters drawn from 62 (71 bits),
// plus "-N" for the N-th later piece of a chunk it cut. The generator is the
// runtime's ChaCha8, seeded from the operating system's entropy: fast,
// lock-free and unpredictable, so a sender cannot guess the end-line its
// body would have to contain to forge a frame (RFC 4975 §7.1 asks for 64
// random bits).
const tidPrefixLen = 12

const tidAlphabet = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"

type tid struct {
	n uint8
	b [32]byte
}

func (t *tid) bytes() []byte { return t.b[:t.n] }

// set copies b (at most 32 bytes) and clears the rest, so that equal ids
// are equal map keys.
func (t *tid) set(b []byte) {
	t.b = [32]byte{}
	t.n = uint8(copy(t.b[:], b))
}

// tidRandom is the generator; tests replace it to predict a tid.
var tidRandom = randUint64

func randUint64() uint64 { return rand.Uint64() }

// newTIDPrefix fills t with a fresh random prefix.
func newTIDPrefix(t *tid) {
	x, y := tidRandom(), tidRandom()
	for i := 0; i < tidPrefixLen; i++ {
		if i == 10 {
			x = y
		}
		t.b[i] = tidAlphabet[x%62]
		x /= 62
	}
	t.n = tidPrefixLen
}

// withPiece writes prefix-N into t for N > 0.
func (t *tid) withPiece(prefix *tid, n int) {
	*t = *prefix
	if n == 0 {
		return
	}
	var tmp [8]byte
	i := len(tmp)
	for ; n > 0 && i > 0; n /= 36 {
		i--
		tmp[i] = tidAlphabet[n%36]
	}
	t.b[t.n] = '-'
	t.n++
	t.n += uint8(copy(t.b[t.n:], tmp[i:]))
}
