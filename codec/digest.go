package codec

import "bytes"

// Digest holds the parameters of a WWW-Authenticate, Authorization or
// Authentication-Info value (RFC 4976 §5, RFC 2617). Values are sub-slices of
// the parsed bytes with any quotes removed; a quoted value with backslash
// escapes keeps them (see Escaped and AppendUnescaped). Parameters a relay
// does not use are skipped.
type Digest struct {
	Username, Realm, Nonce, URI, QOP, NC, CNonce, Response []byte
	Opaque, Algorithm, Stale, RspAuth, NextNonce, Domain   []byte
	// Escaped is set when any quoted value held a backslash escape.
	Escaped bool
}

// ParseDigest parses "Digest k=v, k="v", ..." (the scheme name is optional
// for Authentication-Info, which has none). Parameters may come in any order
// and quoted or not, with blanks around '=' and ','.
func ParseDigest(b []byte, d *Digest) error {
	*d = Digest{}
	b = trimBlanks(b)
	if len(b) >= 6 && equalFold(b[:6], "digest") && (len(b) == 6 || isBlank(b[6])) {
		b = b[6:]
	}
	for {
		b = trimLeft(b)
		if len(b) == 0 {
			return nil
		}
		eq := bytes.IndexByte(b, '=')
		if eq <= 0 {
			return ErrBadDigest
		}
		name := trimBlanks(b[:eq])
		if !validChars(name, isTokenChar) || len(name) == 0 {
			return ErrBadDigest
		}
		val, rest, escaped, err := digestValue(trimLeft(b[eq+1:]))
		if err != nil {
			return err
		}
		d.Escaped = d.Escaped || escaped
		d.set(name, val)
		rest = trimLeft(rest)
		if len(rest) > 0 {
			if rest[0] != ',' {
				return ErrBadDigest
			}
			rest = rest[1:]
		}
		b = rest
	}
}

// digestValue reads a token or a quoted-string off the front of b.
func digestValue(b []byte) (val, rest []byte, escaped bool, err error) {
	if len(b) > 0 && b[0] == '"' {
		for i := 1; i < len(b); i++ {
			switch b[i] {
			case '\\':
				escaped = true
				i++
			case '"':
				return b[1:i], b[i+1:], escaped, nil
			}
		}
		return nil, nil, false, ErrBadDigest
	}
	end := 0
	for end < len(b) && b[end] != ',' && !isBlank(b[end]) {
		if b[end] == '"' {
			return nil, nil, false, ErrBadDigest
		}
		end++
	}
	return b[:end], b[end:], false, nil
}

func (d *Digest) set(name, val []byte) {
	var dst *[]byte
	switch {
	case equalFold(name, "username"):
		dst = &d.Username
	case equalFold(name, "realm"):
		dst = &d.Realm
	case equalFold(name, "nonce"):
		dst = &d.Nonce
	case equalFold(name, "uri"):
		dst = &d.URI
	case equalFold(name, "qop"):
		dst = &d.QOP
	case equalFold(name, "nc"):
		dst = &d.NC
	case equalFold(name, "cnonce"):
		dst = &d.CNonce
	case equalFold(name, "response"):
		dst = &d.Response
	case equalFold(name, "opaque"):
		dst = &d.Opaque
	case equalFold(name, "algorithm"):
		dst = &d.Algorithm
	case equalFold(name, "stale"):
		dst = &d.Stale
	case equalFold(name, "rspauth"):
		dst = &d.RspAuth
	case equalFold(name, "nextnonce"):
		dst = &d.NextNonce
	case equalFold(name, "domain"):
		dst = &d.Domain
	default:
		return
	}
	if *dst == nil {
		// val is never nil for a present parameter, so an empty value
		// still counts as given.
		*dst = val[:len(val):len(val)]
	}
}

// AppendUnescaped writes a quoted-string's content with its backslash
// escapes resolved.
func AppendUnescaped(dst, b []byte) []byte {
	for i := 0; i < len(b); i++ {
		if b[i] == '\\' && i+1 < len(b) {
			i++
		}
		dst = append(dst, b[i])
	}
	return dst
}

// AppendDigestParam writes `name=value` or `name="value"`, preceded by ", "
// unless it is the first parameter after the scheme.
func AppendDigestParam(dst []byte, first bool, name string, value []byte, quoted bool) []byte {
	if !first {
		dst = append(dst, ", "...)
	}
	dst = append(dst, name...)
	dst = append(dst, '=')
	if !quoted {
		return append(dst, value...)
	}
	dst = append(dst, '"')
	for _, c := range value {
		if c == '"' || c == '\\' {
			dst = append(dst, '\\')
		}
		dst = append(dst, c)
	}
	return append(dst, '"')
}

func trimLeft(b []byte) []byte {
	for len(b) > 0 && isBlank(b[0]) {
		b = b[1:]
	}
	return b
}

func trimBlanks(b []byte) []byte {
	b = trimLeft(b)
	for len(b) > 0 && isBlank(b[len(b)-1]) {
		b = b[:len(b)-1]
	}
	return b
}
