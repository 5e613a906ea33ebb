package accounting

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/msrprelay/msrprelay/engine"
	"github.com/msrprelay/msrprelay/engine/sqldb"
	"github.com/msrprelay/msrprelay/engine/sqldb/dbtest"
)

// One PostgreSQL and one MariaDB server for the package, each with the
// accounting table made by Init (msrprelay db init).
var dbs *dbtest.Set

func TestMain(m *testing.M) {
	dbs = dbtest.StartSet(func(_ sqldb.Dialect, s *dbtest.Server) error { return initTable(s) })
	code := m.Run()
	dbs.Close()
	os.Exit(code)
}

func initTable(s *dbtest.Server) error {
	db, err := sqldb.Open(s.URL, 1)
	if err != nil {
		return err
	}
	defer db.Close()
	for i := 0; i < 2; i++ { // twice: db init on an initialised database is fine
		if err := Init(context.Background(), db, "msrp_acc"); err != nil {
			return err
		}
	}
	return nil
}

func eachServer(t *testing.T, fn func(t *testing.T, s *dbtest.Server)) { dbs.Each(t, fn) }

// counters is an engine.Metrics for tests.
type counters [engine.NumCounters]atomic.Int64

func (c *counters) Add(k engine.Counter, n int64) { c[k].Add(n) }

func newWriter(t testing.TB, db *sqldb.DB, o Options) *Writer {
	t.Helper()
	w, err := New(db, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		w.Close(ctx)
	})
	return w
}

// row is what a test reads back.
type row struct {
	User, Domain, Remote, Reason, Relay          string
	DurationMS                                   int64
	BytesFrom, BytesTo, MessagesFrom, MessagesTo int64
	Start, End                                   time.Time
}

// waitRow reads the row of session, waiting for the writer.
func waitRow(t testing.TB, db *sqldb.DB, session string) row {
	t.Helper()
	q := "SELECT username, domain, remote, end_reason, relay, duration_ms, bytes_from_client, bytes_to_client, messages_from_client, messages_to_client, start_time, end_time FROM msrp_acc WHERE session = " + db.Dialect.Param(1)
	deadline := time.Now().Add(15 * time.Second)
	for {
		var r row
		var start, end any
		err := db.QueryRow(q, session).Scan(&r.User, &r.Domain, &r.Remote, &r.Reason, &r.Relay, &r.DurationMS, &r.BytesFrom, &r.BytesTo, &r.MessagesFrom, &r.MessagesTo, &start, &end)
		if err == nil {
			r.Start, r.End = asTime(t, start), asTime(t, end)
			return r
		}
		if time.Now().After(deadline) {
			t.Fatalf("no accounting row for session %s: %v", session, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// asTime reads a time column: pgx gives a time.Time, the MySQL driver
// (without parseTime) the text of a UTC DATETIME.
func asTime(t testing.TB, v any) time.Time {
	t.Helper()
	switch x := v.(type) {
	case time.Time:
		return x
	case []byte:
		tm, err := time.Parse("2006-01-02 15:04:05.000", string(x))
		if err != nil {
			t.Fatal(err)
		}
		return tm
	}
	t.Fatalf("time column %T", v)
	return time.Time{}
}

func countRows(t testing.TB, db *sqldb.DB, where string) int {
	t.Helper()
	var n int
	if err := db.QueryRow("SELECT COUNT(*) FROM msrp_acc WHERE " + where).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func record(session string) engine.Record {
	start := time.Date(2026, 12, 2, 10, 0, 0, 123e6, time.UTC)
	return engine.Record{Session: session, User: "alice", Realm: "example.com", Remote: netip.MustParseAddrPort("192.0.2.7:40000"),
		Start: start, End: start.Add(90500 * time.Millisecond), Reason: "expired",
		BytesFromClient: 1 << 40, BytesToClient: 7, RequestsFromClient: 3, RequestsToClient: 1, Relay: "relay.example.com"}
}

// TestRecordWritten: every field lands in its column, times in UTC with
// milliseconds.
func TestRecordWritten(t *testing.T) {
	eachServer(t, func(t *testing.T, s *dbtest.Server) {
		db := s.Open(t)
		w := newWriter(t, db, Options{})
		in := record("rw0001")
		w.Record(in)
		got := waitRow(t, db, "rw0001")
		want := row{User: "alice", Domain: "example.com", Remote: "192.0.2.7:40000", Reason: "expired", Relay: "relay.example.com",
			DurationMS: 90500, BytesFrom: 1 << 40, BytesTo: 7, MessagesFrom: 3, MessagesTo: 1}
		gotTimes := [2]time.Time{got.Start, got.End}
		got.Start, got.End = time.Time{}, time.Time{}
		if got != want {
			t.Fatalf("row %+v, want %+v", got, want)
		}
		if !gotTimes[0].Equal(in.Start) || !gotTimes[1].Equal(in.End) {
			t.Fatalf("times %v %v, want %v %v", gotTimes[0], gotTimes[1], in.Start, in.End)
		}
	})
}

// TestOddValuesWritten: a user name longer than its column, with a NUL
// and invalid UTF-8, is written cut to fit rather than failing its batch.
func TestOddValuesWritten(t *testing.T) {
	eachServer(t, func(t *testing.T, s *dbtest.Server) {
		db := s.Open(t)
		w := newWriter(t, db, Options{})
		odd := record("odd001")
		odd.User = "x\x00\xff" + strings.Repeat("é", 200)
		w.Record(odd)
		w.Record(record("odd002"))
		if got := waitRow(t, db, "odd001"); len([]rune(got.User)) != 64 || !strings.HasPrefix(got.User, "x??é") {
			t.Fatalf("user %q", got.User)
		}
		waitRow(t, db, "odd002")
	})
}

// TestQueueBound: with the database stopped, records wait in the queue
// up to its bound and the rest are counted as dropped, without Record
// ever waiting; once the database is back the queued ones are written.
func TestQueueBound(t *testing.T) {
	eachServer(t, func(t *testing.T, s *dbtest.Server) {
		db := s.Open(t)
		var m counters
		const bound, batch = 50, 10
		w := newWriter(t, db, Options{Queue: bound, Batch: batch, Retry: 50 * time.Millisecond, MaxRetry: 200 * time.Millisecond, Timeout: time.Second, Metrics: &m})
		s.Stop()
		restarted := false
		defer func() {
			if !restarted {
				s.Start()
			}
		}()
		w.Record(record("qb-first"))
		// The writer takes the first record and fails on it: from then on
		// the queue holds what comes.
		deadline := time.Now().Add(10 * time.Second)
		for m[engine.AccountingWriteErrors].Load() == 0 && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		began := time.Now()
		const sent = 5000
		for i := 0; i < sent; i++ {
			w.Record(record(fmt.Sprintf("qb%04d", i)))
		}
		if took := time.Since(began); took > time.Second {
			t.Fatalf("%d Records took %v with the database down", sent, took)
		}
		dropped := m[engine.AccountingDropped].Load()
		// Besides the queue, the writer holds the batch it retries, which
		// it tops up from the queue before each attempt.
		if dropped < sent-bound-batch || dropped > sent-bound {
			t.Fatalf("%d dropped of %d with a queue of %d", dropped, sent, bound)
		}
		if err := s.Start(); err != nil {
			t.Fatal(err)
		}
		restarted = true
		written := int64(sent + 1 - dropped)
		deadline = time.Now().Add(20 * time.Second)
		for m[engine.AccountingWritten].Load() < written && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
		}
		if got := m[engine.AccountingWritten].Load(); got != written {
			t.Fatalf("written %d, want the %d queued", got, written)
		}
		if n := countRows(t, db, "session LIKE 'qb%'"); int64(n) != written {
			t.Fatalf("%d rows, want %d", n, written)
		}
	})
}

// TestSlowDatabaseNeverBlocks: a database that takes seconds per write
// does not slow Record down. Proved by order, not by a clock: every Record
// returns before the database answered any write, so none waited for one.
func TestSlowDatabaseNeverBlocks(t *testing.T) {
	eachServer(t, func(t *testing.T, s *dbtest.Server) {
		p, err := s.Proxy()
		if err != nil {
			t.Fatal(err)
		}
		defer p.Close()
		db, err := sqldb.Open(p.URL, 2)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		var m counters
		w := newWriter(t, db, Options{Queue: 100, Metrics: &m})
		p.SetDelay(5 * time.Second)
		for i := 0; i < 10000; i++ {
			w.Record(record(fmt.Sprintf("sl%05d", i)))
		}
		if n := m[engine.AccountingWritten].Load(); n != 0 {
			t.Fatalf("10,000 Records returned only after %d writes were answered: Record waited for the database", n)
		}
		if m[engine.AccountingDropped].Load() == 0 {
			t.Fatal("nothing dropped past the queue bound")
		}
		p.SetDelay(0)
	})
}

// TestCloseWritesQueued: Close writes what is queued before it returns.
func TestCloseWritesQueued(t *testing.T) {
	eachServer(t, func(t *testing.T, s *dbtest.Server) {
		db := s.Open(t)
		w, err := New(db, Options{})
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 500; i++ {
			w.Record(record(fmt.Sprintf("cl%04d", i)))
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		w.Close(ctx)
		if n := countRows(t, db, "session LIKE 'cl%'"); n != 500 {
			t.Fatalf("%d rows after Close, want 500", n)
		}
	})
}

func TestCheck(t *testing.T) {
	eachServer(t, func(t *testing.T, s *dbtest.Server) {
		db := s.Open(t)
		if err := newWriter(t, db, Options{}).Check(5 * time.Second); err != nil {
			t.Fatal(err)
		}
		if err := newWriter(t, db, Options{Table: "no_such_acc"}).Check(5 * time.Second); err == nil || !strings.Contains(err.Error(), "db init") {
			t.Fatalf("missing table: %v", err)
		}
	})
}
