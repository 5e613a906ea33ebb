package soak

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// span is an inclusive byte range, 1-based as in Byte-Range.
type span struct{ first, last int64 }

// spans is a set of byte positions kept as sorted, disjoint, non-adjacent
// spans.
type spans []span

// add inserts [first, last].
func (s *spans) add(first, last int64) {
	if last < first {
		return
	}
	v := *s
	i := sort.Search(len(v), func(i int) bool { return v[i].last+1 >= first })
	j := i
	for j < len(v) && v[j].first <= last+1 {
		first = min(first, v[j].first)
		last = max(last, v[j].last)
		j++
	}
	v = append(v[:i], append([]span{{first, last}}, v[j:]...)...)
	*s = v
}

// covers reports whether every position of [first, last] is in the set.
func (s spans) covers(first, last int64) bool {
	if last < first {
		return true
	}
	i := sort.Search(len(s), func(i int) bool { return s[i].last >= first })
	return i < len(s) && s[i].first <= first && s[i].last >= last
}

// uncovered reports whether some position of [first, last] is in neither a
// nor b.
func uncovered(first, last int64, a, b spans) bool {
	var u spans
	for _, x := range a {
		u.add(x.first, x.last)
	}
	for _, x := range b {
		u.add(x.first, x.last)
	}
	return !u.covers(first, last)
}

// byteRange is a parsed Byte-Range header: end and total are -1 for '*'.
type byteRange struct{ start, end, total int64 }

func parseByteRange(v string) (byteRange, error) {
	r := byteRange{start: 1, end: -1, total: -1}
	if v == "" {
		return r, nil // RFC 4975 §7.1.1: absent means the whole body in one chunk
	}
	se, tot, ok := strings.Cut(v, "/")
	if !ok {
		return r, fmt.Errorf("Byte-Range %q", v)
	}
	s, e, ok := strings.Cut(se, "-")
	if !ok {
		return r, fmt.Errorf("Byte-Range %q", v)
	}
	var err error
	if r.start, err = strconv.ParseInt(s, 10, 64); err != nil || r.start < 1 {
		return r, fmt.Errorf("Byte-Range %q", v)
	}
	if e != "*" {
		if r.end, err = strconv.ParseInt(e, 10, 64); err != nil || r.end < r.start-1 {
			return r, fmt.Errorf("Byte-Range %q", v)
		}
	}
	if tot != "*" {
		if r.total, err = strconv.ParseInt(tot, 10, 64); err != nil || r.total < 0 {
			return r, fmt.Errorf("Byte-Range %q", v)
		}
	}
	return r, nil
}
