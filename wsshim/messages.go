package wsshim

// WriteMessages frames b as Write does, for a sender that knows where its
// messages end: each offset in ends (ascending, within b) closes a message,
// and the bytes after the last one start a message, or continue the open
// one, that a later call closes.
func (s *Session) WriteMessages(b []byte, ends []int) {
	start := 0
	for _, e := range ends {
		s.Write(b[start:e], true)
		start = e
	}
	if start < len(b) {
		s.Write(b[start:], false)
	}
}
