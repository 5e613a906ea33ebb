package endpoint

import (
	"bytes"
	"io"
	"strings"
	"testing"

	"github.com/msrprelay/msrprelay/codec"
)

// TestSectionContains puts the pattern at every offset of a section read
// through a buffer a little longer than the pattern, so that it spans reads
// in every possible way.
func TestSectionContains(t *testing.T) {
	pat := "-------abcd"
	for bufLen := len(pat) + 1; bufLen < 3*len(pat); bufLen += 3 {
		for at := 0; at <= 40-len(pat); at++ {
			data := strings.Repeat("x", at) + pat + strings.Repeat("y", 40-len(pat)-at)
			// The section starts 5 bytes in, so offsets are section-relative.
			r := io.NewSectionReader(strings.NewReader("zzzzz"+data), 5, int64(len(data)))
			found, err := sectionContains(r, []byte(pat), make([]byte, bufLen))
			if err != nil || !found {
				t.Fatalf("buf %d, at %d: %v %v", bufLen, at, found, err)
			}
			near := strings.Replace(data, pat, pat[:len(pat)-1]+"X", 1)
			r = io.NewSectionReader(strings.NewReader("zzzzz"+near), 5, int64(len(near)))
			if found, _ := sectionContains(r, []byte(pat), make([]byte, bufLen)); found {
				t.Fatalf("buf %d, at %d: found in %q", bufLen, at, near)
			}
		}
	}
}

func TestNewTIDFor(t *testing.T) {
	for range 100 {
		tid := NewTIDFor([]byte("anything"))
		if !codec.ValidTID([]byte(tid)) {
			t.Fatalf("tid %q", tid)
		}
	}
	if !bytes.Contains([]byte("x\r\n-------abc$\r\n"), endLine("abc")) || bytes.Contains([]byte("------abc"), endLine("abc")) {
		t.Fatal("endLine")
	}
}
