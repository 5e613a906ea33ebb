package codec

// Limits bounds what the parser accepts before it allocates or searches
// further. The zero value means the defaults below; see WithDefaults.
type Limits struct {
	MaxLine        int // start line or one header line, CRLF included
	MaxHeaderBlock int // start line + headers + blank line
	MaxHeaders     int // header lines per frame, at most MaxHeadersCap
	MaxNonSendBody int // body of any request but SEND (RFC 4975 §7.1)
}

// Defaults a relay would use.
const (
	DefaultMaxLine        = 16 << 10
	DefaultMaxHeaderBlock = 64 << 10
	DefaultMaxHeaders     = 64
	DefaultMaxNonSendBody = 10240
	// MaxHeadersCap is the size of Frame's header table.
	MaxHeadersCap = 64
)

// WithDefaults returns l with every zero field set to its default and every
// field clamped to what the codec can represent.
func (l Limits) WithDefaults() Limits {
	if l.MaxLine <= 0 {
		l.MaxLine = DefaultMaxLine
	}
	if l.MaxHeaderBlock <= 0 {
		l.MaxHeaderBlock = DefaultMaxHeaderBlock
	}
	if l.MaxHeaders <= 0 {
		l.MaxHeaders = DefaultMaxHeaders
	}
	if l.MaxHeaders > MaxHeadersCap {
		l.MaxHeaders = MaxHeadersCap
	}
	if l.MaxNonSendBody <= 0 {
		l.MaxNonSendBody = DefaultMaxNonSendBody
	}
	return l
}
