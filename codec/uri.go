package codec

import "bytes"

// URI is an MSRP URI (RFC 4975 §6):
//
//	msrp[s]://[userinfo@]host[:port][/session-id];transport[;params]
//
// Its fields are sub-slices of the parsed bytes. Host keeps the brackets of
// an IPv6 literal.
type URI struct {
	Scheme    []byte
	User      []byte // userinfo, without '@'
	Host      []byte
	Port      int // -1 when absent
	SessionID []byte
	Transport []byte
	Params    []byte // after the transport's ';', without the leading ';'
}

// Secure reports whether the scheme is msrps.
func (u *URI) Secure() bool { return len(u.Scheme) == 5 }

// ParseURI parses one MSRP URI.
func ParseURI(b []byte) (URI, error) {
	u := URI{Port: -1}
	sep := bytes.Index(b, []byte("://"))
	if sep < 0 {
		return u, ErrBadURI
	}
	u.Scheme = b[:sep]
	if !equalFold(u.Scheme, "msrp") && !equalFold(u.Scheme, "msrps") {
		return u, ErrBadURI
	}
	rest := b[sep+3:]
	if at := bytes.IndexByte(rest, '@'); at >= 0 {
		if bytes.IndexByte(rest[:at], '/') < 0 {
			u.User = rest[:at]
			if len(u.User) == 0 || !validChars(u.User, isUserChar) {
				return u, ErrBadURI
			}
			rest = rest[at+1:]
		}
	}
	rest, err := u.parseHostPort(rest)
	if err != nil {
		return u, err
	}
	if len(rest) > 0 && rest[0] == '/' {
		end := bytes.IndexByte(rest, ';')
		if end < 0 {
			end = len(rest)
		}
		u.SessionID = rest[1:end]
		if len(u.SessionID) == 0 || !validChars(u.SessionID, isSessionChar) {
			return u, ErrBadURI
		}
		rest = rest[end:]
	}
	if len(rest) < 2 || rest[0] != ';' {
		return u, ErrBadURI
	}
	rest = rest[1:]
	end := bytes.IndexByte(rest, ';')
	if end < 0 {
		end = len(rest)
	}
	u.Transport = rest[:end]
	if len(u.Transport) == 0 || !validChars(u.Transport, isAlnum) {
		return u, ErrBadURI
	}
	if end < len(rest) {
		u.Params = rest[end+1:]
		if !validParams(u.Params) {
			return u, ErrBadURI
		}
	}
	return u, nil
}

func (u *URI) parseHostPort(rest []byte) ([]byte, error) {
	var hostEnd int
	if len(rest) > 0 && rest[0] == '[' {
		hostEnd = bytes.IndexByte(rest, ']') + 1
		if hostEnd < 3 || !validChars(rest[1:hostEnd-1], isIPv6Char) {
			return nil, ErrBadURI
		}
	} else {
		for hostEnd < len(rest) && isHostChar(rest[hostEnd]) {
			hostEnd++
		}
		if hostEnd == 0 {
			return nil, ErrBadURI
		}
	}
	u.Host = rest[:hostEnd]
	rest = rest[hostEnd:]
	if len(rest) == 0 || rest[0] != ':' {
		return rest, nil
	}
	n, port := 1, 0
	for ; n < len(rest) && '0' <= rest[n] && rest[n] <= '9'; n++ {
		port = port*10 + int(rest[n]-'0')
		if port > 65535 {
			return nil, ErrBadURI
		}
	}
	if n == 1 {
		return nil, ErrBadURI
	}
	u.Port = port
	return rest[n:], nil
}

func validChars(b []byte, ok func(byte) bool) bool {
	for _, c := range b {
		if !ok(c) {
			return false
		}
	}
	return true
}

func isUnreserved(c byte) bool {
	return isAlnum(c) || c == '-' || c == '.' || c == '_' || c == '~'
}

func isSubDelim(c byte) bool { return bytes.IndexByte([]byte("!$&'()*+,;="), c) >= 0 }

func isUserChar(c byte) bool { return isUnreserved(c) || c == '%' || isSubDelim(c) || c == ':' }

func isHostChar(c byte) bool { return isUnreserved(c) || c == '%' }

func isIPv6Char(c byte) bool {
	return ('0' <= c && c <= '9') || ('a' <= lower(c) && lower(c) <= 'f') || c == ':' || c == '.'
}

// isSessionChar is session-id = 1*( unreserved / "+" / "=" / "/" ).
func isSessionChar(c byte) bool { return isUnreserved(c) || c == '+' || c == '=' || c == '/' }

// validParams checks *( ";" URI-parameter ) after the first ';', where
// URI-parameter = token ["=" token].
func validParams(b []byte) bool {
	for len(b) > 0 {
		end := bytes.IndexByte(b, ';')
		if end < 0 {
			end = len(b)
		}
		name, value, hasValue := bytes.Cut(b[:end], []byte("="))
		if len(name) == 0 || !validChars(name, isTokenChar) || (hasValue && (len(value) == 0 || !validChars(value, isTokenChar))) {
			return false
		}
		if end == len(b) {
			return true
		}
		b = b[end+1:]
		if len(b) == 0 {
			return false
		}
	}
	return false
}

// Equal compares two MSRP URIs by RFC 4975 §6.1: scheme, host and transport
// without regard to case, ports exactly (an explicit port never equals an
// absent one), session ids exactly. Userinfo and parameters do not take part.
func (u *URI) Equal(v *URI) bool {
	return bytes.EqualFold(u.Scheme, v.Scheme) &&
		bytes.EqualFold(u.Host, v.Host) &&
		u.Port == v.Port &&
		bytes.Equal(u.SessionID, v.SessionID) &&
		bytes.EqualFold(u.Transport, v.Transport)
}

// SameAuthority reports whether u and v name the same relay endpoint:
// scheme, host and port, as RFC 4976 §6.2 needs to tell "this relay".
func (u *URI) SameAuthority(v *URI) bool {
	return bytes.EqualFold(u.Scheme, v.Scheme) &&
		bytes.EqualFold(u.Host, v.Host) &&
		u.Port == v.Port
}

// AppendURI writes u in its canonical text form.
func AppendURI(dst []byte, u *URI) []byte {
	dst = append(dst, u.Scheme...)
	dst = append(dst, "://"...)
	if len(u.User) > 0 {
		dst = append(dst, u.User...)
		dst = append(dst, '@')
	}
	dst = append(dst, u.Host...)
	if u.Port >= 0 {
		dst = append(dst, ':')
		dst = appendInt(dst, int64(u.Port))
	}
	if len(u.SessionID) > 0 {
		dst = append(dst, '/')
		dst = append(dst, u.SessionID...)
	}
	dst = append(dst, ';')
	dst = append(dst, u.Transport...)
	if len(u.Params) > 0 {
		dst = append(dst, ';')
		dst = append(dst, u.Params...)
	}
	return dst
}

// NextURI splits a path header value (URIs separated by spaces) into its
// first URI and the rest, with the separating blanks dropped. first is nil
// when path holds no more URIs.
func NextURI(path []byte) (first, rest []byte) {
	for len(path) > 0 && isBlank(path[0]) {
		path = path[1:]
	}
	if len(path) == 0 {
		return nil, nil
	}
	end := 0
	for end < len(path) && !isBlank(path[end]) {
		end++
	}
	first, rest = path[:end], path[end:]
	for len(rest) > 0 && isBlank(rest[0]) {
		rest = rest[1:]
	}
	return first, rest
}

// PathLen counts the URIs in a path header value.
func PathLen(path []byte) int {
	n := 0
	for first, rest := NextURI(path); first != nil; first, rest = NextURI(rest) {
		n++
	}
	return n
}

// LastURI is the rightmost URI of a path header value.
func LastURI(path []byte) []byte {
	var last []byte
	for first, rest := NextURI(path); first != nil; first, rest = NextURI(rest) {
		last = first
	}
	return last
}

// ValidPath reports whether every URI of a path header value parses and
// there is at least one.
func ValidPath(path []byte) bool {
	n := 0
	for first, rest := NextURI(path); first != nil; first, rest = NextURI(rest) {
		if _, err := ParseURI(first); err != nil {
			return false
		}
		n++
	}
	return n > 0
}
