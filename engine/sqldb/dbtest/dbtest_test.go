package dbtest

import (
	"testing"
	"time"
)

// TestStopStart: each server takes the relay's connections, refuses them
// once stopped, and takes them again on the same port when started.
func TestStopStart(t *testing.T) {
	pg, err := StartPostgres()
	Need(t, pg, err)
	defer pg.Close()
	my, err := StartMariaDB()
	Need(t, my, err)
	defer my.Close()
	for _, s := range []*Server{pg, my} {
		db := s.Open(t)
		if err := db.Ping(5 * time.Second); err != nil {
			t.Fatal(err)
		}
		s.Stop()
		if err := db.Ping(2 * time.Second); err == nil {
			t.Fatalf("%s: ping works with the server stopped", s.Dialect)
		}
		if err := s.Start(); err != nil {
			t.Fatal(err)
		}
		if err := db.Ping(5 * time.Second); err != nil {
			t.Fatalf("%s after a restart: %v", s.Dialect, err)
		}
	}
}
