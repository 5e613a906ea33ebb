package codec

// headerID names the headers a relay reads. Frame.Parse indexes them so that
// an accessor costs one array lookup.
type headerID uint8

const (
	hUnknown headerID = iota
	hToPath
	hFromPath
	hMessageID
	hByteRange
	hContentType
	hSuccessReport
	hFailureReport
	hStatus
	hUsePath
	hExpires
	hMinExpires
	hMaxExpires
	hAuthorization
	hWWWAuthenticate
	hAuthenticationInfo
	hKeepAlive
	numHeaderIDs
)

var headerNames = [numHeaderIDs]string{
	hToPath:             "To-Path",
	hFromPath:           "From-Path",
	hMessageID:          "Message-ID",
	hByteRange:          "Byte-Range",
	hContentType:        "Content-Type",
	hSuccessReport:      "Success-Report",
	hFailureReport:      "Failure-Report",
	hStatus:             "Status",
	hUsePath:            "Use-Path",
	hExpires:            "Expires",
	hMinExpires:         "Min-Expires",
	hMaxExpires:         "Max-Expires",
	hAuthorization:      "Authorization",
	hWWWAuthenticate:    "WWW-Authenticate",
	hAuthenticationInfo: "Authentication-Info",
	hKeepAlive:          "Keep-Alive",
}

// lookupHeader maps a header name to its id. Header names are ABNF literals,
// so they compare without regard to ASCII case (RFC 5234 §2.3).
func lookupHeader(name []byte) headerID {
	// The first letter and the length pick at most two candidates, so the
	// common headers cost one folded compare.
	if len(name) == 0 {
		return hUnknown
	}
	switch lower(name[0]) {
	case 't':
		return match(name, hToPath)
	case 'f':
		return match(name, hFromPath, hFailureReport)
	case 'm':
		return match(name, hMessageID, hMinExpires, hMaxExpires)
	case 'b':
		return match(name, hByteRange)
	case 'c':
		return match(name, hContentType)
	case 's':
		return match(name, hSuccessReport, hStatus)
	case 'u':
		return match(name, hUsePath)
	case 'e':
		return match(name, hExpires)
	case 'a':
		return match(name, hAuthorization, hAuthenticationInfo)
	case 'w':
		return match(name, hWWWAuthenticate)
	case 'k':
		return match(name, hKeepAlive)
	}
	return hUnknown
}

func match(name []byte, ids ...headerID) headerID {
	for _, id := range ids {
		if equalFold(name, headerNames[id]) {
			return id
		}
	}
	return hUnknown
}

func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// equalFold compares ASCII case-insensitively without allocating.
func equalFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := 0; i < len(b); i++ {
		if lower(b[i]) != lower(s[i]) {
			return false
		}
	}
	return true
}

// EqualFold reports whether b equals s, ignoring ASCII case.
func EqualFold(b []byte, s string) bool { return equalFold(b, s) }
