package soak

import "hash/fnv"

// patternAlphabet has no '-', CR or LF: a body can never hold an end-line.
const patternAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

// Pattern is the body of one message: byte i (0-based offset in the whole
// message) depends only on the Message-ID and i.
type Pattern uint64

// PatternFor returns the pattern of the message with this Message-ID.
func PatternFor(msgID string) Pattern {
	h := fnv.New64a()
	h.Write([]byte(msgID))
	return Pattern(h.Sum64())
}

func mix(x uint64) uint64 { // splitmix64's finaliser
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// Fill writes the pattern's bytes from offset off into dst.
func (p Pattern) Fill(dst []byte, off int64) {
	for i := 0; i < len(dst); {
		o := off + int64(i)
		w := mix(uint64(p) ^ uint64(o/8)*0x2545f4914f6cdd1d)
		for j := int(o % 8); j < 8 && i < len(dst); j++ {
			dst[i] = patternAlphabet[(w>>(6*j))&63]
			i++
		}
	}
}

// Check returns the index in b of the first byte that differs from the
// pattern at offset off, or -1 when b matches.
func (p Pattern) Check(b []byte, off int64) int {
	var want [8]byte
	for i := 0; i < len(b); {
		o := off + int64(i)
		j := int(o % 8)
		n := min(8-j, len(b)-i)
		p.Fill(want[:n], o)
		for k := 0; k < n; k++ {
			if b[i+k] != want[k] {
				return i + k
			}
		}
		i += n
	}
	return -1
}
