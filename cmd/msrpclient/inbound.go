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
	"github.com/msrprelay/msrprelay/endpoint"
)

// maxText is the largest text message kept in memory to print; a larger or
// unsized text body is saved like a file.
const maxText = 1 << 20

// inbound is one message being reassembled from its chunks into memory
// (a text to print) or into a file.
type inbound struct {
	*endpoint.Assembly

	id       string
	fromPath string // the SEND's From-Path: where a REPORT goes
	ctype    string
	report   bool // Success-Report: yes

	text []byte   // the body of a text message, sized from Byte-Range
	file *os.File // or the file a non-text body is written to
	path string
}

// newInbound starts a message from its first frame: a text/* body of known,
// modest size without a file name is kept to print, anything else goes to
// a new file in dir.
func newInbound(h *endpoint.Frame, rng codec.ByteRange, dir string) (*inbound, error) {
	m := &inbound{id: h.Header("Message-ID"), fromPath: h.Header("From-Path"), ctype: h.Header("Content-Type")}
	name := dispositionFilename(h.Header("Content-Disposition"))
	if isText(m.ctype) && name == "" && rng.Total != codec.Unknown && rng.Total <= maxText {
		m.text = make([]byte, rng.Total)
		m.Assembly = endpoint.NewAssembly(endpoint.SliceAt(m.text), rng.Total)
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
	m.Assembly = endpoint.NewAssembly(f, rng.Total)
	return m, nil
}

func isText(ctype string) bool {
	mt, _, err := mime.ParseMediaType(ctype)
	return err == nil && strings.HasPrefix(mt, "text/")
}

// sender is the URI of the endpoint that sent the message: the last URI of
// the From-Path (the first is the hop the message came from, usually our
// own relay).
func (m *inbound) sender() string { return endpoint.LastURI(m.fromPath) }

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
	if err := m.file.Truncate(m.Size()); err != nil {
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
