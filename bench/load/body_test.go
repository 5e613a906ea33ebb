package load

import (
	"bytes"
	"testing"

	"github.com/msrprelay/msrprelay/endpoint"
)

func TestBodyRoundTrip(t *testing.T) {
	for _, size := range []int{MinBodySize, 100, 4000} {
		b := make([]byte, size)
		fillBody(b, 12345, 987654321)
		seq, ts, err := checkBody(b)
		if err != nil || seq != 12345 || ts != 987654321 {
			t.Fatalf("size %d: got %d %d %v", size, seq, ts, err)
		}
	}
}

func TestBodyCorruptionDetected(t *testing.T) {
	b := make([]byte, 100)
	fillBody(b, 7, 42)
	for i := range b {
		c := append([]byte(nil), b...)
		c[i] ^= 0x01
		if _, _, err := checkBody(c); err == nil {
			t.Fatalf("flipping byte %d went unnoticed", i)
		}
	}
	if _, _, err := checkBody(b[:MinBodySize-1]); err == nil {
		t.Fatal("short body accepted")
	}
	if _, _, err := checkBody(b[:99]); err == nil {
		t.Fatal("truncated body accepted")
	}
}

func TestSeqTracker(t *testing.T) {
	var s seqTracker
	for _, q := range []uint64{0, 1, 2, 2, 5, 3, 6, 1} {
		s.add(q)
	}
	// 0 1 2 ok; 2 duplicate; 5 skips 3,4; 3 late; 6 ok; 1 duplicate.
	if s.unique != 6 || s.duplicate != 2 || s.reordered != 1 || s.gapped != 1 {
		t.Fatalf("got unique=%d dup=%d reordered=%d gapped=%d", s.unique, s.duplicate, s.reordered, s.gapped)
	}
}

func TestSendTemplateParses(t *testing.T) {
	tpl := newSendTemplate("msrp://127.0.0.1:1/s;tcp msrp://127.0.0.1:2/bob;tcp", "msrp://127.0.0.1:3/alice;tcp", 100)
	var buf []byte
	for seq := uint64(0); seq < 3; seq++ {
		buf = tpl.appendSend(buf, 5, seq, int64(seq*1000))
	}
	r := endpoint.NewReader(bytes.NewReader(buf), len(buf))
	for seq := uint64(0); seq < 3; seq++ {
		body, flag, err := r.Next()
		if err != nil || r.Malformed() != nil || flag != '$' {
			t.Fatalf("frame %d: err=%v malformed=%v flag=%c", seq, err, r.Malformed(), flag)
		}
		f := r.Parsed()
		got, ts, err := checkBody(body)
		if err != nil || got != seq || ts != int64(seq*1000) {
			t.Fatalf("frame %d: body %d %d %v", seq, got, ts, err)
		}
		if string(f.MessageID()) != string(f.TID()) {
			t.Fatalf("Message-ID %s != tid %s", f.MessageID(), f.TID())
		}
		ok := appendOK(nil, f, []byte("msrp://127.0.0.1:2/bob;tcp"))
		if want := "MSRP " + string(f.TID()) + " 200 OK\r\nTo-Path: msrp://127.0.0.1:3/alice;tcp\r\n"; string(ok[:len(want)]) != want {
			t.Fatalf("200: %q", ok)
		}
	}
}

// File chunks carry consecutive Byte-Ranges, one Message-ID and '+' on
// every chunk but the last.
func TestChunkTemplate(t *testing.T) {
	tpl := newChunkTemplate("msrp://127.0.0.1:1/s;tcp", "msrp://127.0.0.1:3/a;tcp", 100, 250)
	if sc := (Scenario{FileSize: 250, BodySize: 100}); sc.fileChunks() != 3 {
		t.Fatalf("%d chunks", sc.fileChunks())
	}
	want := []struct {
		start, end int64
		flag       byte
	}{{1, 100, '+'}, {101, 200, '+'}, {201, 250, '$'}}
	var msgID string
	for seq, w := range want {
		wire := tpl.appendSend(nil, 7, uint64(seq), 5)
		if len(wire) > tpl.maxFrameLen() {
			t.Fatalf("frame of %d bytes over maxFrameLen %d", len(wire), tpl.maxFrameLen())
		}
		r := endpoint.NewReader(bytes.NewReader(wire), len(wire))
		body, flag, err := r.Next()
		if err != nil {
			t.Fatalf("chunk %d: %v\n%s", seq, err, wire)
		}
		f := r.Parsed()
		br, err := f.ByteRange()
		if err != nil || br.Start != w.start || br.End != w.end || br.Total != 250 || flag != w.flag {
			t.Fatalf("chunk %d: range %+v flag %c, want %+v", seq, br, flag, w)
		}
		if s, ts, err := checkBody(body); err != nil || s != uint64(seq) || ts != 5 || int64(len(body)) != w.end-w.start+1 {
			t.Fatalf("chunk %d: body seq %d ts %d len %d err %v", seq, s, ts, len(body), err)
		}
		if seq == 0 {
			msgID = string(f.MessageID())
		} else if string(f.MessageID()) != msgID {
			t.Fatalf("chunk %d: Message-ID %s, want %s", seq, f.MessageID(), msgID)
		}
	}
}
