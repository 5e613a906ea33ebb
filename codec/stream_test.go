package codec

import (
	"bytes"
	"fmt"
	"strings"
)

// decoded is one frame as a reactor would see it: the header view rendered
// as text, plus the body the scanner released.
type decoded struct {
	header string
	body   []byte
	flag   byte
	err    error
}

func (d decoded) String() string {
	return fmt.Sprintf("%s\nbody %q\nflag %c\nerr %v\n", d.header, d.body, d.flag, d.err)
}

// streamDecoder drives Frame.Parse and BodyScanner the way a reactor does:
// bytes accumulate in one buffer, consumed bytes are discarded from its front.
type streamDecoder struct {
	lim    *Limits
	buf    []byte
	prog   Progress
	frame  Frame
	scan   BodyScanner
	inBody bool
	cur    decoded
	out    []decoded
	err    error // a Close error: the stream is dead
}

func (d *streamDecoder) feed(b []byte) {
	if d.err != nil {
		return
	}
	d.buf = append(d.buf, b...)
	for d.step() {
	}
}

// step makes one unit of progress and reports whether another may follow.
func (d *streamDecoder) step() bool {
	if !d.inBody {
		n, err := d.frame.Parse(d.buf, d.lim, &d.prog)
		if err == ErrNeedMore {
			return false
		}
		if IsClose(err) {
			d.err = err
			return false
		}
		d.cur = decoded{header: dumpFrame(&d.frame), err: err}
		if !d.frame.HasBody() {
			d.cur.flag = d.frame.Flag()
			d.out = append(d.out, d.cur)
			d.buf = d.buf[n:]
			return true
		}
		d.scan.Reset(d.frame.TID(), 0)
		d.inBody = true
		d.buf = d.buf[n:]
		return true
	}
	r, err := d.scan.Scan(d.buf)
	if err != nil {
		d.err = err
		return false
	}
	d.cur.body = append(d.cur.body, d.buf[:r.Body]...)
	if r.End == 0 {
		d.buf = d.buf[r.Body:]
		return false
	}
	d.cur.flag = r.Flag
	d.out = append(d.out, d.cur)
	d.inBody = false
	d.buf = d.buf[r.End:]
	return true
}

// dumpFrame renders everything the parser extracted, in a stable text form.
func dumpFrame(f *Frame) string {
	var b strings.Builder
	if f.IsResponse() {
		fmt.Fprintf(&b, "response tid=%s code=%d comment=%q\n", f.TID(), f.Code(), f.Comment())
	} else {
		fmt.Fprintf(&b, "request tid=%s method=%s\n", f.TID(), f.Method())
	}
	for i := 0; i < f.NumHeaders(); i++ {
		n, v := f.HeaderAt(i)
		fmt.Fprintf(&b, "header %q = %q\n", n, v)
	}
	for first, rest := NextURI(f.ToPath()); first != nil; first, rest = NextURI(rest) {
		fmt.Fprintf(&b, "to %s\n", dumpURI(first))
	}
	for first, rest := NextURI(f.FromPath()); first != nil; first, rest = NextURI(rest) {
		fmt.Fprintf(&b, "from %s\n", dumpURI(first))
	}
	if f.HasByteRange() {
		r, err := f.ByteRange()
		fmt.Fprintf(&b, "byte-range %d-%d/%d err=%v\n", r.Start, r.End, r.Total, err)
	}
	sr, err1 := f.SuccessReport()
	fr, err2 := f.FailureReport()
	fmt.Fprintf(&b, "reports success=%d(%v) failure=%d(%v)\n", sr, err1, fr, err2)
	if f.StatusHeader() != nil {
		s, err := f.Status()
		fmt.Fprintf(&b, "status ns=%03d code=%d comment=%q err=%v\n", s.Namespace, s.Code, s.Comment, err)
	}
	for _, h := range []struct {
		name string
		get  func() (int64, bool, error)
	}{{"expires", f.Expires}, {"min-expires", f.MinExpires}, {"max-expires", f.MaxExpires}} {
		if v, ok, err := h.get(); ok {
			fmt.Fprintf(&b, "%s %d err=%v\n", h.name, v, err)
		}
	}
	for _, h := range []struct {
		name string
		v    []byte
	}{{"authorization", f.Authorization()}, {"www-authenticate", f.WWWAuthenticate()}, {"authentication-info", f.AuthenticationInfo()}} {
		if h.v != nil {
			var d Digest
			err := ParseDigest(h.v, &d)
			fmt.Fprintf(&b, "%s err=%v %s\n", h.name, err, dumpDigest(&d))
		}
	}
	fmt.Fprintf(&b, "has-body %v header-len %d", f.HasBody(), f.HeaderLen())
	return b.String()
}

func dumpURI(b []byte) string {
	u, err := ParseURI(b)
	if err != nil {
		return fmt.Sprintf("%q err=%v", b, err)
	}
	return fmt.Sprintf("scheme=%s user=%s host=%s port=%d session=%s transport=%s params=%s",
		u.Scheme, u.User, u.Host, u.Port, u.SessionID, u.Transport, u.Params)
}

func dumpDigest(d *Digest) string {
	var b bytes.Buffer
	for _, p := range []struct {
		n string
		v []byte
	}{
		{"username", d.Username}, {"realm", d.Realm}, {"nonce", d.Nonce}, {"uri", d.URI},
		{"qop", d.QOP}, {"nc", d.NC}, {"cnonce", d.CNonce}, {"response", d.Response},
		{"opaque", d.Opaque}, {"algorithm", d.Algorithm}, {"stale", d.Stale},
		{"rspauth", d.RspAuth}, {"nextnonce", d.NextNonce},
	} {
		if p.v != nil {
			fmt.Fprintf(&b, "%s=%q ", p.n, p.v)
		}
	}
	return strings.TrimSpace(b.String())
}

// decodeAll feeds wire in the given piece sizes (cycled) and returns the
// rendered result.
func decodeAll(wire []byte, sizes ...int) string {
	d := streamDecoder{}
	for i, k := 0, 0; i < len(wire); k++ {
		n := len(wire) - i
		if len(sizes) > 0 {
			n = min(n, sizes[k%len(sizes)])
		}
		d.feed(wire[i : i+n])
		i += n
	}
	return renderDecoded(&d)
}

func renderDecoded(d *streamDecoder) string {
	var b strings.Builder
	for i, f := range d.out {
		fmt.Fprintf(&b, "=== frame %d\n%s", i, f)
	}
	if d.err != nil {
		// Bytes after a fatal error are never looked at, so how many were
		// buffered depends on the read boundaries: leave it out.
		fmt.Fprintf(&b, "=== stream err %v\n", d.err)
		return b.String()
	}
	fmt.Fprintf(&b, "=== stream err %v, %d bytes left, in body %v\n", d.err, len(d.buf), d.inBody)
	return b.String()
}
