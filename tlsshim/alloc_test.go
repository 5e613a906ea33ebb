//go:build !race

package tlsshim

import "testing"

// TestLargeOutputAfterChatAllocatesNothing: sessions carrying chat and one
// carrying a file share the output pool. Once warm, the file session's
// large records find their buffer again however many small ones the chat
// sessions returned (a pool calibrated on sizes drops it and allocates it
// anew for every large flush).
func TestLargeOutputAfterChatAllocatesNothing(t *testing.T) {
	p := newPKI(t)
	chat := make([]*Session, 32)
	for i := range chat {
		chat[i], _, _ = serverPair(t, p, nil)
	}
	file, _, _ := serverPair(t, p, nil)
	small, large := make([]byte, 100), make([]byte, 64<<10)
	round := func() {
		// Every chat session holds its output at once (unwritten sockets),
		// so the pool sees many small buffers for each large one.
		for _, s := range chat {
			if err := s.Seal(small); err != nil {
				t.Fatal(err)
			}
		}
		for _, s := range chat {
			s.Written()
		}
		if err := file.Seal(large); err != nil {
			t.Fatal(err)
		}
		file.Written()
	}
	for range 2000 {
		round()
	}
	if n := testing.AllocsPerRun(200, round); n != 0 {
		t.Fatalf("%.0f allocations per round", n)
	}
}
