package load

import (
	"time"

	"github.com/msrprelay/msrprelay/codec"
	"github.com/msrprelay/msrprelay/endpoint"
)

// aliceStats are one sender's counts, read once it has stopped.
type aliceStats struct {
	oks        int64
	status     map[int]int64 // non-200 responses by code
	reports    map[int]int64 // REPORTs by Status code
	badFrame   int64
	unexpected int64
	err        error // reading
	sendErr    error
}

// send is alice's loop. Closed loop (interval 0): whenever window slots
// are free, fill them all in one write. Open loop: message k is due at
// k*interval and is stamped with that time, so time spent waiting for a
// window slot counts as latency rather than disappearing.
func (p *pair) send(rs *runState, interval, phase time.Duration) {
	defer p.aliceDone.Store(true)
	frameLen := p.tpl.maxFrameLen()
	batch := min(rs.sc.Window, max(1, maxWriteBatch/frameLen))
	buf := make([]byte, 0, batch*frameLen)
	ends := make([]int, 0, batch) // where each frame in buf ends
	credits := rs.sc.Window
	var seq uint64
	next := phase
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for p.quota == 0 || int64(seq) < p.quota {
		if interval > 0 {
			if wait := next - time.Since(rs.start); wait > 0 {
				timer.Reset(wait)
				select {
				case <-timer.C:
				case <-rs.stopSend:
					return
				}
			}
		}
		if credits == 0 {
			select {
			case <-p.credits:
				credits++
			case <-rs.stopSend:
				return
			}
		}
		credits += drain(p.credits)
		select {
		case <-rs.stopSend:
			return
		default:
		}
		now := time.Since(rs.start)
		buf, ends = buf[:0], ends[:0]
		for n := 0; n < batch && credits > 0 && (p.quota == 0 || int64(seq) < p.quota); n++ {
			ts := now
			if interval > 0 {
				if next > now {
					break
				}
				ts = next
				next += interval
			}
			buf = p.tpl.appendSend(buf, p.idx, seq, int64(ts))
			ends = append(ends, len(buf))
			seq++
			credits--
		}
		// Published before the write: bob may never see more than sent.
		p.sent.Store(int64(seq))
		if err := p.alice.writeFrames(buf, ends); err != nil {
			if !p.closing.Load() {
				p.aliceStats.sendErr = err
			}
			return
		}
	}
}

// maxWriteBatch bounds the bytes of one write: a window of large chunks
// goes out in several writes, each stamped when it is built.
const maxWriteBatch = 256 << 10

func drain(c chan struct{}) int {
	n := 0
	for {
		select {
		case <-c:
			n++
		default:
			return n
		}
	}
}

// readAlice reads alice's connection: the relay's 200s and any REPORT.
func (p *pair) readAlice(rs *runState) {
	st := &p.aliceStats
	st.status = map[int]int64{}
	st.reports = map[int]int64{}
	fr := endpoint.NewReader(p.alice, 16<<10)
	for {
		_, _, err := fr.Next()
		if err != nil {
			if !p.closing.Load() {
				st.err = err
			}
			return
		}
		f := fr.Parsed()
		switch {
		case fr.Malformed() != nil:
			st.badFrame++
		case f.IsResponse() && f.Code() == 200:
			st.oks++
		case f.IsResponse():
			st.status[f.Code()]++
		case codec.EqualFold(f.Method(), "REPORT"):
			s, err := f.Status()
			if err != nil {
				st.reports[0]++
			} else {
				st.reports[s.Code]++
			}
		default:
			st.unexpected++
		}
	}
}
