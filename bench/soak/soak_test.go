package soak

import (
	"strings"
	"testing"
)

func TestPattern(t *testing.T) {
	p := PatternFor("msg-1")
	whole := make([]byte, 200_003)
	p.Fill(whole, 0)
	if strings.ContainsAny(string(whole), "-\r\n") {
		t.Fatal("pattern holds '-', CR or LF: a body could fake an end-line")
	}
	// Any piece at its offset matches, filled whole or piecewise.
	for _, cut := range [][2]int{{0, 1}, {0, 8}, {3, 11}, {7, 9}, {65536, 131072}, {199_990, 200_003}} {
		b := whole[cut[0]:cut[1]]
		if i := p.Check(b, int64(cut[0])); i != -1 {
			t.Fatalf("piece %v: mismatch at %d", cut, i)
		}
		part := make([]byte, len(b))
		p.Fill(part, int64(cut[0]))
		if string(part) != string(b) {
			t.Fatalf("piece %v filled on its own differs", cut)
		}
	}
	// The wrong offset, the wrong message, one flipped byte: caught where
	// they differ.
	if p.Check(whole[100:200], 101) == -1 {
		t.Error("a piece shifted by one byte passed")
	}
	if PatternFor("msg-2").Check(whole[:64], 0) == -1 {
		t.Error("another message's bytes passed")
	}
	bad := append([]byte(nil), whole[1000:2000]...)
	bad[517] ^= 1
	if i := p.Check(bad, 1000); i != 517 {
		t.Errorf("flipped byte at 517 reported at %d", i)
	}
	if p.Check(nil, 5) != -1 {
		t.Error("an empty piece failed")
	}
}

func TestFlat(t *testing.T) {
	for _, c := range []struct {
		name  string
		vals  []float64
		slack float64
		ok    bool
		why   string
	}{
		{"too few samples", []float64{10}, 1, true, ""},
		{"constant", []float64{50, 50, 50, 50, 50, 50, 50}, 4, true, ""},
		{"noise within tolerance", []float64{100, 106, 98, 109, 101, 104, 99, 108}, 4, true, ""},
		{"end within 10%", []float64{100, 100, 104, 103, 102, 105, 109}, 4, true, ""},
		// W = median(100, 101, 99) = 100, E = median(112, 111, 113) = 112.
		{"end above 10%", []float64{100, 101, 99, 102, 104, 112, 111, 113}, 4, false, "end 112.0 > warm-up 100.0 + 10.0"},
		// One high last sample does not decide: E = median(101, 100, 125) = 101.
		{"one busy last sample", []float64{100, 101, 99, 102, 101, 100, 125}, 4, true, ""},
		{"one idle warm-up sample", []float64{60, 100, 101, 102, 101, 100, 104}, 4, true, ""},
		{"absolute slack for small values", []float64{20, 30, 25, 35, 22, 28}, 16, true, ""},
		{"small value beyond slack", []float64{20, 21, 22, 38, 37, 39}, 16, false, "end 38.0"},
		{"two samples", []float64{100, 120}, 4, false, "end 120.0 > warm-up 100.0 + 10.0"},
		// The last three are back at 100 but the last third sits at 116.
		{"drift with low last samples", []float64{100, 100, 101, 99, 100, 101, 108, 109, 110, 108, 109, 110, 116, 117, 118, 119, 100, 100}, 4, false, "drifts up: median of the last third 116.5"},
		{"steady rise inside the tolerance", []float64{100, 101, 102, 103, 105, 106, 107, 108}, 4, false, "rises at every sample"},
		{"rise of less than half the tolerance", []float64{100, 100, 101, 101, 102, 102, 103}, 4, true, ""},
		{"falling", []float64{200, 180, 170, 150, 150, 140}, 4, true, ""},
		{"short series: only the end rule", []float64{100, 101, 102, 103, 104}, 4, true, ""},
	} {
		ok, why := Flat(c.vals, c.slack)
		if ok != c.ok || !strings.Contains(why, c.why) {
			t.Errorf("%s: Flat = %v %q, want %v %q", c.name, ok, why, c.ok, c.why)
		}
	}
	if got := FlatTolerance(1000, 16); got != 100 {
		t.Errorf("tolerance of 1000 with slack 16: %v", got)
	}
	if got := FlatTolerance(50, 16); got != 16 {
		t.Errorf("tolerance of 50 with slack 16: %v", got)
	}
}

func TestSpans(t *testing.T) {
	var s spans
	s.add(1, 10)
	s.add(21, 30)
	if s.covers(1, 30) || !s.covers(3, 9) || !s.covers(21, 30) || s.covers(10, 11) {
		t.Fatalf("%v", s)
	}
	s.add(11, 20) // adjacent on both sides: one span
	if len(s) != 1 || !s.covers(1, 30) {
		t.Fatalf("%v", s)
	}
	s.add(50, 60)
	s.add(40, 55)
	if len(s) != 2 || !s.covers(40, 60) || s.covers(31, 40) {
		t.Fatalf("%v", s)
	}
	var f spans
	f.add(31, 39)
	if uncovered(1, 60, s, f) || !uncovered(1, 61, s, f) {
		t.Fatalf("union of %v and %v", s, f)
	}
}

func TestLostChunk(t *testing.T) {
	chunks := func() []*txChunk {
		return []*txChunk{{first: 1, last: 100, code: 200}, {first: 101, last: 200, code: 200}, {first: 201, last: 300, code: 413}}
	}
	for _, c := range []struct {
		name     string
		got      spans
		failed   spans
		lost     bool
		lostFrom int64
	}{
		{"all arrived", spans{{1, 200}}, nil, false, 0},
		{"nothing arrived, nothing reported", nil, nil, true, 1},
		{"second chunk short", spans{{1, 150}}, nil, true, 101},
		{"the missing part reported", spans{{1, 150}}, spans{{151, 200}}, false, 0},
		{"all reported", nil, spans{{1, 300}}, false, 0},
		{"a refused chunk is not lost", spans{{1, 200}}, nil, false, 0},
	} {
		m := &txMsg{chunks: chunks(), failed: c.failed}
		ch, lost := m.lostChunk(c.got)
		if lost != c.lost || lost && ch.first != c.lostFrom {
			t.Errorf("%s: lostChunk = %v %v, want %v from %d", c.name, ch, lost, c.lost, c.lostFrom)
		}
	}
	ep := &endpoint{rx: map[string]*rxMsg{"a": {got: spans{{1, 5}}}}}
	if got := ep.received("a"); len(got) != 1 || got[0] != (span{1, 5}) {
		t.Errorf("received(a) = %v", got)
	}
	if got := ep.received("b"); got != nil {
		t.Errorf("received(b) = %v, want nothing", got)
	}
}

func TestParseByteRange(t *testing.T) {
	for in, want := range map[string]byteRange{
		"1-65536/4000000": {1, 65536, 4000000},
		"65537-*/*":       {65537, -1, -1},
		"":                {1, -1, -1},
	} {
		if got, err := parseByteRange(in); err != nil || got != want {
			t.Errorf("%q: %+v %v", in, got, err)
		}
	}
	for _, in := range []string{"0-1/2", "1-2", "a-2/3", "5-3/9", "1-2/-1"} {
		if _, err := parseByteRange(in); err == nil {
			t.Errorf("%q accepted", in)
		}
	}
}

func TestParseMetrics(t *testing.T) {
	m, err := parseMetrics(strings.NewReader("# HELP go_goroutines x\ngo_goroutines 42\nmsrprelay_panics_total 0\ngo_gc_duration_seconds{quantile=\"0\"} 1e-05\n" +
		"msrprelay_connections_opened_total{transport=\"tcp\"} 3\nmsrprelay_connections_opened_total{transport=\"tls\"} 4\n"))
	if err != nil || m["go_goroutines"] != 42 || m["msrprelay_connections_opened_total"] != 7 || len(m) != 3 {
		t.Fatalf("%v %v", m, err)
	}
}
