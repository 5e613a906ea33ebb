package load

import (
	"errors"
	"hash/crc32"
)

// A body is laid out as 16 hex digits of sequence number, 16 hex digits of
// send time (nanoseconds since the run started), 8 hex digits of a CRC-32C
// (hardware-assisted, so 4000-byte bodies stay cheap) over everything else, then filler that depends on the sequence
// number so that a body swapped between messages fails the checksum too.
// Only hex digits and letters: a body can never contain an end-line.
const (
	seqLen        = 16
	tsLen         = 16
	sumLen        = 8
	bodyHeaderLen = seqLen + tsLen + sumLen
	// MinBodySize is the smallest body that carries the stamp.
	MinBodySize = bodyHeaderLen
)

// Body verification failures.
var (
	errBodyShort   = errors.New("body shorter than its stamp")
	errBodyCorrupt = errors.New("body checksum mismatch")
)

const hexDigits = "0123456789abcdef"

func putHex(b []byte, v uint64) {
	for i := len(b) - 1; i >= 0; i-- {
		b[i] = hexDigits[v&0xf]
		v >>= 4
	}
}

// getHex parses len(b) hex digits; ok is false on any other byte.
func getHex(b []byte) (v uint64, ok bool) {
	for _, c := range b {
		switch {
		case c >= '0' && c <= '9':
			v = v<<4 | uint64(c-'0')
		case c >= 'a' && c <= 'f':
			v = v<<4 | uint64(c-'a'+10)
		default:
			return 0, false
		}
	}
	return v, true
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// bodySum is the checksum of b, leaving out the checksum field itself.
func bodySum(b []byte) uint32 {
	h := crc32.Update(0, castagnoli, b[:seqLen+tsLen])
	return crc32.Update(h, castagnoli, b[bodyHeaderLen:])
}

// filler is the alphabet repeated: a body's filler is a window of it that
// starts at seq%26, copied rather than computed byte by byte.
var filler = func() []byte {
	b := make([]byte, 26*64)
	for i := range b {
		b[i] = 'a' + byte(i%26)
	}
	return b
}()

// fillBody writes a whole body for seq sent at ts into b (len(b) >=
// MinBodySize), in place.
func fillBody(b []byte, seq uint64, ts int64) {
	putHex(b[:seqLen], seq)
	putHex(b[seqLen:seqLen+tsLen], uint64(ts))
	f := b[bodyHeaderLen:]
	off := int(seq % 26)
	for len(f) > 0 {
		n := copy(f, filler[off:])
		f = f[n:]
		off = 0
	}
	putHex(b[seqLen+tsLen:bodyHeaderLen], uint64(bodySum(b)))
}

// checkBody verifies b and returns the sequence number and send time it
// carries.
func checkBody(b []byte) (seq uint64, ts int64, err error) {
	if len(b) < bodyHeaderLen {
		return 0, 0, errBodyShort
	}
	seq, ok1 := getHex(b[:seqLen])
	t, ok2 := getHex(b[seqLen : seqLen+tsLen])
	sum, ok3 := getHex(b[seqLen+tsLen : bodyHeaderLen])
	if !ok1 || !ok2 || !ok3 || uint32(sum) != bodySum(b) {
		return 0, 0, errBodyCorrupt
	}
	return seq, int64(t), nil
}
