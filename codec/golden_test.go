package codec

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the .golden files from the decoder's output")

// vectors returns every wire vector under testdata/vectors.
func vectors(t testing.TB) map[string][]byte {
	t.Helper()
	files, err := filepath.Glob("testdata/vectors/*.msrp")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no vectors in testdata/vectors")
	}
	out := make(map[string][]byte, len(files))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out[f] = b
	}
	return out
}

// TestGoldenVectors decodes every vector in one piece and compares the result
// with its .golden file. Every vector is a valid frame sequence: it must
// decode to whole frames with nothing left over.
func TestGoldenVectors(t *testing.T) {
	for name, wire := range vectors(t) {
		t.Run(filepath.Base(name), func(t *testing.T) {
			got := decodeAll(wire)
			if !strings.HasSuffix(got, "=== stream err <nil>, 0 bytes left, in body false\n") {
				t.Fatalf("vector does not decode cleanly:\n%s", got)
			}
			if strings.Contains(got, "\nerr msrp:") {
				t.Fatalf("vector has a frame error:\n%s", got)
			}
			golden := strings.TrimSuffix(name, ".msrp") + ".golden"
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -run TestGoldenVectors -update)", err)
			}
			if got != string(want) {
				t.Errorf("decoded differently from %s:\ngot:\n%s\nwant:\n%s", golden, got, want)
			}
		})
	}
}

// TestSplitAnywhere is the property that a reactor relies on: whatever the
// read boundaries, the decoder sees the same frames.
func TestSplitAnywhere(t *testing.T) {
	for name, wire := range vectors(t) {
		t.Run(filepath.Base(name), func(t *testing.T) {
			whole := decodeAll(wire)
			if got := decodeAll(wire, 1); got != whole {
				t.Fatalf("byte-at-a-time differs:\n%s\nwhole:\n%s", got, whole)
			}
			for cut := 1; cut < len(wire); cut++ {
				d := streamDecoder{}
				d.feed(wire[:cut])
				d.feed(wire[cut:])
				if got := renderDecoded(&d); got != whole {
					t.Fatalf("split at %d differs:\n%s\nwhole:\n%s", cut, got, whole)
				}
			}
			for _, sizes := range [][]int{{2}, {3, 7}, {13}, {64, 1}} {
				if got := decodeAll(wire, sizes...); got != whole {
					t.Fatalf("pieces %v differ:\n%s", sizes, got)
				}
			}
		})
	}
}
