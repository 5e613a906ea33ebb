package main

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/rs/zerolog"
	"github.com/rs/zerolog/diode"
)

// newLogger builds the process logger. Lines go through a diode: a
// lock-free ring that a goroutine drains to stderr, so a slow log sink drops
// lines (and says how many) instead of stalling an event loop.
func newLogger(level, format string) (zerolog.Logger, func(), error) {
	lvl, err := zerolog.ParseLevel(level)
	if err != nil {
		return zerolog.Logger{}, nil, fmt.Errorf("--log-level: %w", err)
	}
	// The diode closes its sink when it closes, and os.Stderr is a
	// Closer: behind a plain Writer, stderr stays open for the error a
	// failed start prints after the log is shut.
	var sink io.Writer = stderr{}
	switch format {
	case "json":
	case "console":
		sink = zerolog.ConsoleWriter{Out: stderr{}, TimeFormat: time.RFC3339}
	default:
		return zerolog.Logger{}, nil, fmt.Errorf("--log-format %q: want json or console", format)
	}
	d := diode.NewWriter(sink, 10000, 10*time.Millisecond, func(missed int) {
		fmt.Fprintf(os.Stderr, "msrprelay: log sink too slow, %d lines dropped\n", missed)
	})
	log := zerolog.New(d).Level(lvl).With().Timestamp().Logger()
	return log, func() { _ = d.Close() }, nil
}

// stderr writes to os.Stderr and cannot be closed.
type stderr struct{}

func (stderr) Write(p []byte) (int, error) { return os.Stderr.Write(p) }
