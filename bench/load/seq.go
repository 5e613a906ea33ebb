package load

// seqTracker classifies the sequence numbers one receiver sees. Sequence
// numbers start at 0 and a sender never skips one, so anything but the next
// number is an error: a gap (messages missing so far), a duplicate, or a late
// arrival (one that fills an earlier gap: out of order). The last 64 numbers
// below the highest are remembered to tell duplicates from late arrivals.
type seqTracker struct {
	next   uint64 // highest seen + 1
	seen   uint64 // bit i: next-1-i was seen
	unique int64
	// gapped counts numbers skipped when a higher one arrived and not
	// (yet) filled; at the end of a run they are the lost messages.
	gapped    int64
	duplicate int64
	reordered int64
}

// add records seq.
func (t *seqTracker) add(seq uint64) {
	switch {
	case seq == t.next:
		t.seen = t.seen<<1 | 1
		t.next++
		t.unique++
	case seq > t.next:
		skip := seq - t.next
		t.gapped += int64(skip)
		if skip >= 63 {
			t.seen = 1
		} else {
			t.seen = t.seen<<(skip+1) | 1
		}
		t.next = seq + 1
		t.unique++
	default:
		back := t.next - 1 - seq
		if back < 64 && t.seen&(1<<back) != 0 {
			t.duplicate++
			return
		}
		if back < 64 {
			t.seen |= 1 << back
		}
		// Beyond the window it is counted as late, never as a duplicate:
		// with windows of a few messages a duplicate that old is unlikely.
		t.reordered++
		t.gapped--
		t.unique++
	}
}
