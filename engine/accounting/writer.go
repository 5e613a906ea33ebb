package accounting

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/rs/zerolog"

	"github.com/msrprelay/msrprelay/engine"
	"github.com/msrprelay/msrprelay/engine/sqldb"
)

// Options configure a Writer; zero values are the defaults.
type Options struct {
	Table string // default msrp_acc
	// Queue is the most records held in memory waiting to be written
	// (default 10,000); Batch the most written by one INSERT (default 100).
	Queue int
	Batch int
	// Retry is the first wait after a failed write, doubled up to
	// MaxRetry (defaults 1 s and 30 s). Timeout bounds one write (10 s).
	Retry    time.Duration
	MaxRetry time.Duration
	Timeout  time.Duration
	Metrics  engine.Metrics
	Logger   zerolog.Logger
}

// Writer is the engine.Accounting that writes to SQL.
type Writer struct {
	db     *sqldb.DB
	o      Options
	insert string // INSERT INTO t (columns) VALUES
	queue  chan engine.Record
	stop   chan struct{}
	done   chan struct{}
	final  atomic.Pointer[context.Context] // the deadline of the last flush
	closed atomic.Bool
	// dropped counts records lost since the last log line about it.
	dropped     atomic.Int64
	lastDropLog atomic.Int64
}

// New starts a Writer on db. The table must exist (Init creates it).
func New(db *sqldb.DB, o Options) (*Writer, error) {
	if o.Table == "" {
		o.Table = "msrp_acc"
	}
	if err := sqldb.CheckIdent("accounting table", o.Table); err != nil {
		return nil, err
	}
	setInt(&o.Queue, 10000)
	setInt(&o.Batch, 100)
	setDur(&o.Retry, time.Second)
	setDur(&o.MaxRetry, 30*time.Second)
	setDur(&o.Timeout, 10*time.Second)
	if o.Metrics == nil {
		o.Metrics = nopMetrics{}
	}
	w := &Writer{db: db, o: o, queue: make(chan engine.Record, o.Queue), stop: make(chan struct{}), done: make(chan struct{}),
		insert: "INSERT INTO " + db.Dialect.Quote(o.Table) + " (" + strings.Join(columnNames(), ", ") + ") VALUES "}
	go w.run()
	return w, nil
}

// Check writes nothing but proves the table takes this writer's rows:
// a missing table or column stops the relay at start.
func (w *Writer) Check(timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	q := "SELECT " + strings.Join(columnNames(), ", ") + " FROM " + w.db.Dialect.Quote(w.o.Table) + " WHERE 1 = 0"
	rows, err := w.db.QueryContext(ctx, q)
	if err != nil {
		return fmt.Errorf("%s: table %s (create it with msrprelay db init): %w", w.db.Name, w.o.Table, err)
	}
	return rows.Close()
}

func columnNames() []string {
	names := make([]string, len(columns))
	for i, c := range columns {
		names[i] = c.name
	}
	return names
}

// Record implements engine.Accounting: it never waits.
func (w *Writer) Record(r engine.Record) {
	if w.closed.Load() {
		w.drop(1, "the relay is stopping")
		return
	}
	select {
	case w.queue <- r:
	default:
		w.drop(1, "the queue is full: the accounting database is down or slow")
	}
}

// drop counts lost records and says so at most every ten seconds.
func (w *Writer) drop(n int64, why string) {
	w.o.Metrics.Add(engine.AccountingDropped, n)
	w.dropped.Add(n)
	now := time.Now().UnixNano()
	last := w.lastDropLog.Load()
	if now-last < int64(10*time.Second) || !w.lastDropLog.CompareAndSwap(last, now) {
		return
	}
	w.o.Logger.Error().Int64("dropped", w.dropped.Swap(0)).Int("queue_bound", w.o.Queue).Str("why", why).
		Msg("accounting records lost")
}

// Close writes what is queued until ctx ends; what is left then is lost
// (counted and logged).
func (w *Writer) Close(ctx context.Context) {
	if w.closed.Swap(true) {
		return
	}
	w.final.Store(&ctx)
	close(w.stop)
	<-w.done
	if left := int64(len(w.queue)); left > 0 {
		for len(w.queue) > 0 {
			<-w.queue
		}
		w.drop(left, "the relay stopped before the accounting database took them")
	}
	if n := w.dropped.Swap(0); n > 0 {
		w.o.Logger.Error().Int64("dropped", n).Msg("accounting records lost")
	}
}

func (w *Writer) run() {
	defer close(w.done)
	batch := make([]engine.Record, 0, w.o.Batch)
	wait := time.Duration(0)
	for {
		if len(batch) == 0 {
			select {
			case r := <-w.queue:
				batch = append(batch, r)
			case <-w.stop:
				w.flushAtStop(batch)
				return
			}
		}
		batch = w.fill(batch)
		var err error
		if batch, err = w.writeOrSift(context.Background(), batch); err == nil {
			wait = 0
			continue
		}
		wait = min(max(2*wait, w.o.Retry), w.o.MaxRetry)
		w.o.Logger.Error().Err(err).Int("records_waiting", len(batch)+len(w.queue)).Int("queue_bound", w.o.Queue).
			Dur("retry_in", wait).Msg("accounting records not written; retrying")
		select {
		case <-time.After(wait):
		case <-w.stop:
			w.flushAtStop(batch)
			return
		}
	}
}

// fill tops the batch up with what is already queued.
func (w *Writer) fill(batch []engine.Record) []engine.Record {
	for len(batch) < w.o.Batch {
		select {
		case r := <-w.queue:
			batch = append(batch, r)
		default:
			return batch
		}
	}
	return batch
}

// writeOrSift writes the batch. When it fails while the database
// answers, one of its records is at fault (the database refused a value):
// the rows go one by one and the refused ones are dropped, so that one
// record never holds up all the others. It returns what is still to be
// written.
func (w *Writer) writeOrSift(ctx context.Context, batch []engine.Record) ([]engine.Record, error) {
	err := w.write(ctx, batch)
	if err == nil {
		return batch[:0], nil
	}
	w.o.Metrics.Add(engine.AccountingWriteErrors, 1)
	if len(batch) == 1 || !w.reachable(ctx) {
		return batch, err
	}
	kept := batch[:0]
	for _, r := range batch {
		if rerr := w.write(ctx, []engine.Record{r}); rerr != nil {
			if !w.reachable(ctx) {
				kept = append(kept, r)
				continue
			}
			w.o.Logger.Error().Err(rerr).Str("session", r.Session).Msg("accounting record refused by the database; dropped")
			w.drop(1, "refused by the database")
		}
	}
	if len(kept) > 0 {
		return kept, err
	}
	return kept, nil
}

func (w *Writer) reachable(ctx context.Context) bool {
	ctx, cancel := context.WithTimeout(ctx, w.o.Timeout)
	defer cancel()
	return w.db.PingContext(ctx) == nil
}

// flushAtStop writes the batch and the queue until the Close deadline.
func (w *Writer) flushAtStop(batch []engine.Record) {
	ctx := *w.final.Load()
	for {
		batch = w.fill(batch)
		if len(batch) == 0 {
			return
		}
		rest, err := w.writeOrSift(ctx, batch)
		if err != nil {
			w.drop(int64(len(rest)), "the relay stopped before the accounting database took them")
			w.o.Logger.Error().Err(err).Msg("accounting: last records not written")
			return
		}
		batch = rest
	}
}

// write inserts the records with one statement.
func (w *Writer) write(ctx context.Context, batch []engine.Record) error {
	ctx, cancel := context.WithTimeout(ctx, w.o.Timeout)
	defer cancel()
	var q strings.Builder
	q.WriteString(w.insert)
	args := make([]any, 0, len(batch)*len(columns))
	d := w.db.Dialect
	for i, r := range batch {
		if i > 0 {
			q.WriteString(", ")
		}
		q.WriteByte('(')
		for j := range columns {
			if j > 0 {
				q.WriteString(", ")
			}
			q.WriteString(d.Param(len(args) + j + 1))
		}
		q.WriteByte(')')
		args = append(args, values(r)...)
	}
	if _, err := w.db.ExecContext(ctx, q.String(), args...); err != nil {
		return err
	}
	w.o.Metrics.Add(engine.AccountingWritten, int64(len(batch)))
	return nil
}

// values is a record's row, in the order of columns.
func values(r engine.Record) []any {
	return []any{
		text(r.Session, 16), text(r.User, 64), text(r.Realm, 128), text(r.Remote.String(), 64),
		r.Start.UTC(), r.End.UTC(), r.End.Sub(r.Start).Milliseconds(), text(r.Reason, 32),
		r.BytesFromClient, r.BytesToClient, r.RequestsFromClient, r.RequestsToClient, text(r.Relay, 255),
	}
}

// text fits s into a column of size characters as valid UTF-8 without
// NULs: a user name is whatever a client sent, and a value the database
// refuses would cost the record.
func text(s string, size int) string {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "?")
	}
	s = strings.ReplaceAll(s, "\x00", "?")
	if utf8.RuneCountInString(s) <= size {
		return s
	}
	n := 0
	for i := range s {
		if n == size {
			return s[:i]
		}
		n++
	}
	return s
}

func setInt(v *int, def int) {
	if *v <= 0 {
		*v = def
	}
}

func setDur(v *time.Duration, def time.Duration) {
	if *v <= 0 {
		*v = def
	}
}

type nopMetrics struct{}

func (nopMetrics) Add(engine.Counter, int64) {}
