package load

import (
	"time"

	"github.com/msrprelay/msrprelay/codec"
	"github.com/msrprelay/msrprelay/endpoint"
)

// bobStats are one receiver's counts, read once it has stopped.
type bobStats struct {
	seq        seqTracker
	corrupt    int64
	badFrame   int64
	unexpected int64
	aborted    int64
	chunks     int64 // SENDs that arrived cut into chunks ('+')
	err        error
}

// receive is bob's loop: verify every SEND, record its latency, answer 200
// and give alice back a window slot. Answers and latencies are batched per
// read; nothing is allocated per message.
func (p *pair) receive(rs *runState) {
	st := &p.bobStats
	fr := endpoint.NewReader(p.bob, rs.readBuf)
	fr.Throttle(rs.sc.ReceiveRate)
	out := make([]byte, 0, 8<<10)
	ends := make([]int, 0, 256) // where each 200 in out ends
	lats := make([]int64, 0, 512)
	var partial []byte
	start := rs.start
	for {
		body, flag, err := fr.Next()
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
		case f.IsResponse() || !codec.EqualFold(f.Method(), "SEND"):
			st.unexpected++
		default:
			out = appendOK(out, f, p.bobURI)
			ends = append(ends, len(out))
			switch {
			case rs.sc.FileSize > 0 && flag != '#':
				body = p.fileChunk(f, body, flag, &partial, rs.sc.BodySize)
			case flag == '+':
				st.chunks++
				partial = append(partial, body...)
				body = nil
			case flag == '#':
				st.aborted++
				partial = partial[:0]
				body = nil
			default:
				if len(partial) > 0 {
					partial = append(partial, body...)
					body, partial = partial, partial[:0]
				}
			}
			if body == nil {
				break
			}
			seq, ts, berr := checkBody(body)
			if berr != nil {
				st.corrupt++
				break
			}
			before := st.seq.unique
			st.seq.add(seq)
			if st.seq.unique == before {
				break
			}
			lats = append(lats, (fr.LastRead().Sub(start).Nanoseconds()-ts)/1000)
			p.delivered.Add(1)
			select {
			case p.credits <- struct{}{}:
			default:
			}
		}
		if !fr.Buffered() && !p.bob.readAhead() || len(out) > 32<<10 || len(lats) == cap(lats) {
			if len(out) > 0 {
				if err := p.bob.writeFrames(out, ends); err != nil {
					if !p.closing.Load() {
						st.err = err
					}
					return
				}
				out, ends = out[:0], ends[:0]
			}
			if len(lats) > 0 {
				rs.lat.record(p.idx, lats)
				lats = lats[:0]
				p.lastAt.Store(int64(time.Since(start)))
			}
		}
	}
}

// fileChunk returns the whole chunk the sender wrote once its last byte
// arrived, else nil: a relay may cut a chunk further (RFC 4975 §7.1.1), so
// the pieces are gathered in partial until the Byte-Range position reaches
// the end of a sender's chunk (a multiple of chunkSize) or the message ends.
func (p *pair) fileChunk(f *codec.Frame, body []byte, flag byte, partial *[]byte, chunkSize int) []byte {
	br, err := f.ByteRange()
	if err != nil {
		p.bobStats.badFrame++
		return nil
	}
	end := br.Start - 1 + int64(len(body))
	if flag != '$' && end%int64(chunkSize) != 0 {
		p.bobStats.chunks++
		*partial = append(*partial, body...)
		return nil
	}
	if len(*partial) == 0 {
		return body
	}
	*partial = append(*partial, body...)
	whole := *partial
	*partial = (*partial)[:0]
	return whole
}
