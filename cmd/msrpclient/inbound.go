package main

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"mime"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/msrprelay/msrprelay/codec"
)

// maxText is the largest text message kept in memory to print; a larger or
// unsized text body is saved like a file.
const maxText = 1 << 20

// inbound is one message being reassembled from its chunks (RFC 4975
// §7.1.1). Chunks may come in any order and a relay may cut one chunk into
// several frames, so every frame's body is written at its own Byte-Range
// start, and the message is complete once the chunk flagged '$' has been
// seen and every byte up to its end has arrived.
type inbound struct {
	id       string
	fromPath string // the SEND's From-Path: where a REPORT goes
	ctype    string
	report   bool // Success-Report: yes

	text []byte   // the body of a text message, sized from Byte-Range
	file *os.File // or the file a non-text body is written to
	path string

	total    int64 // codec.Unknown until a Byte-Range gives it
	received int64 // body bytes written
	end      int64 // where the message ends, once the '$' chunk is in; -1 before
}

// newInbound starts a message from its first frame: a text/* body of known,
// modest size without a file name is kept to print, anything else goes to
// a new file in dir.
func newInbound(h *head, rng codec.ByteRange, dir string) (*inbound, error) {
	m := &inbound{id: h.Get("Message-ID"), fromPath: h.Get("From-Path"), ctype: h.Get("Content-Type"), total: rng.Total, end: -1}
	name := dispositionFilename(h.Get("Content-Disposition"))
	if isText(m.ctype) && name == "" && rng.Total != codec.Unknown && rng.Total <= maxText {
		m.text = make([]byte, rng.Total)
		return m, nil
	}
	if name == "" {
		name = m.id
	}
	f, path, err := createUnique(dir, name)
	if err != nil {
		return nil, err
	}
	m.file, m.path = f, path
	return m, nil
}

func isText(ctype string) bool {
	mt, _, err := mime.ParseMediaType(ctype)
	return err == nil && strings.HasPrefix(mt, "text/")
}

// sender is the URI of the endpoint that sent the message: the last URI of
// the From-Path (the first is the hop the message came from, usually our
// own relay).
func (m *inbound) sender() string { return string(codec.LastURI([]byte(m.fromPath))) }

// writer returns where the body of a frame starting at Byte-Range start
// goes. Writes past the total the sender declared fail.
func (m *inbound) writer(start int64) io.Writer {
	var wa io.WriterAt = m.file
	if m.file == nil {
		wa = sliceAt(m.text)
	}
	return &countingWriter{w: io.NewOffsetWriter(boundedAt{wa, m.total}, start-1), n: &m.received}
}

// chunkDone records the flag of a frame whose body went to writer(start)
// and carried n bytes.
func (m *inbound) chunkDone(flag byte, start, n int64) {
	if flag == '$' {
		m.end = start - 1 + n
	}
}

func (m *inbound) complete() bool { return m.end >= 0 && m.received >= m.end }

// size is the message's length once complete.
func (m *inbound) size() int64 { return m.end }

// discard drops a message that will not complete (aborted, or the
// connection ended): a partial file is removed.
func (m *inbound) discard() {
	if m.file != nil {
		m.file.Close()
		os.Remove(m.path)
	}
}

// finishFile closes the file and hashes what it holds. It reads the file
// back rather than hashing on the way in, because chunks may come in any
// order.
func (m *inbound) finishFile() (sum string, err error) {
	if err := m.file.Truncate(m.end); err != nil {
		return "", err
	}
	if _, err := m.file.Seek(0, io.SeekStart); err != nil {
		return "", err
	}
	h := sha256.New()
	_, err = io.Copy(h, m.file)
	if cerr := m.file.Close(); err == nil {
		err = cerr
	}
	return hex.EncodeToString(h.Sum(nil)), err
}

// dispositionFilename is the filename parameter of a Content-Disposition
// value, reduced to a plain base name ("" if there is none or it is not
// usable). The name comes from the network: it must not lead outside the
// directory we save to.
func dispositionFilename(v string) string {
	if v == "" {
		return ""
	}
	_, params, err := mime.ParseMediaType(v)
	if err != nil {
		return ""
	}
	return safeName(params["filename"])
}

func safeName(name string) string {
	name = filepath.Base(strings.ReplaceAll(name, "\\", "/"))
	name = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r == '/' {
			return -1
		}
		return r
	}, name)
	if name == "." || name == ".." || name == "/" || strings.TrimSpace(name) == "" {
		return ""
	}
	return name
}

// createUnique creates dir/name, or name-1, name-2... before the extension
// when it exists: a received file never overwrites one already there.
func createUnique(dir, name string) (*os.File, string, error) {
	ext := filepath.Ext(name)
	stem := strings.TrimSuffix(name, ext)
	for i := 0; i < 1000; i++ {
		n := name
		if i > 0 {
			n = stem + "-" + strconv.Itoa(i) + ext
		}
		path := filepath.Join(dir, n)
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
		if err == nil {
			return f, path, nil
		}
		if !errors.Is(err, os.ErrExist) {
			return nil, "", err
		}
	}
	return nil, "", fmt.Errorf("no free file name for %q in %s", name, dir)
}

// sliceAt writes into a fixed byte slice.
type sliceAt []byte

func (s sliceAt) WriteAt(p []byte, off int64) (int, error) {
	if off < 0 || off+int64(len(p)) > int64(len(s)) {
		return 0, errBeyondTotal
	}
	return copy(s[off:], p), nil
}

var errBeyondTotal = errors.New("body runs past the Byte-Range total")

// boundedAt refuses writes past limit (codec.Unknown: no limit).
type boundedAt struct {
	w     io.WriterAt
	limit int64
}

func (b boundedAt) WriteAt(p []byte, off int64) (int, error) {
	if b.limit != codec.Unknown && off+int64(len(p)) > b.limit {
		return 0, errBeyondTotal
	}
	return b.w.WriteAt(p, off)
}

// countingWriter adds what it writes to *n.
type countingWriter struct {
	w io.Writer
	n *int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	*c.n += int64(n)
	return n, err
}
