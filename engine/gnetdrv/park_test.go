package gnetdrv

import (
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
)

// outcome is what one transition returned.
type outcome struct {
	step step
	fd   int
	ok   bool
}

const heldFD = 7

var (
	oldHome = &home{}
	newHome = &home{}
)

// events are the transitions, as the driver calls them.
var events = map[string]func(*parkState) outcome{
	"opened": func(s *parkState) outcome { return outcome{fd: -1, ok: s.opened(newHome)} },
	"close": func(s *parkState) outcome {
		st, _ := s.closeAsked()
		return outcome{step: st, fd: -1}
	},
	"resume": func(s *parkState) outcome {
		st, _ := s.resumeAsked()
		return outcome{step: st, fd: -1}
	},
	"park": func(s *parkState) outcome { return outcome{fd: -1, ok: s.parkStarts(heldFD, nil)} },
	"gnetClosed": func(s *parkState) outcome {
		st, fd := s.gnetClosed()
		return outcome{step: st, fd: fd}
	},
	"enroll": func(s *parkState) outcome {
		st, fd, _ := s.enrollStarts()
		return outcome{step: st, fd: fd}
	},
	"closeParked": func(s *parkState) outcome {
		fd, ok := s.closeParked()
		return outcome{fd: fd, ok: ok}
	},
	"enrollFailed": func(s *parkState) outcome { return outcome{fd: -1, ok: s.enrollFailed()} },
}

// flags of a state besides its phase.
type flags struct{ closeWanted, resumeWanted bool }

func TestParkTransitions(t *testing.T) {
	cw := flags{closeWanted: true}
	rw := flags{resumeWanted: true}
	none := outcome{fd: -1}
	yes := outcome{fd: -1, ok: true}
	tests := []struct {
		from      phase
		flags     flags
		event     string
		want      outcome
		wantPhase phase
		wantFlags flags
	}{
		// OnOpen.
		{opening, flags{}, "opened", yes, live, flags{}},
		{opening, cw, "opened", none, closing, cw}, // closed while opening: refused, OnClose ends it
		{closed, flags{}, "opened", none, closed, flags{}},
		// Link.Close: acts where the socket is the caller's, else leaves a note.
		{live, flags{}, "close", outcome{step: stepCloseGnet, fd: -1}, closing, flags{}},
		{closing, flags{}, "close", none, closing, flags{}},
		{opening, flags{}, "close", none, opening, cw},
		{parking, flags{}, "close", none, parking, cw},
		{parked, flags{}, "close", outcome{step: stepParkedLoop, fd: -1}, parked, cw},
		{closed, flags{}, "close", none, closed, flags{}},
		// Link.Resume.
		{live, flags{}, "resume", outcome{step: stepWakeGnet, fd: -1}, live, flags{}},
		{parking, flags{}, "resume", none, parking, rw},
		{parked, flags{}, "resume", outcome{step: stepParkedLoop, fd: -1}, parked, flags{}},
		{opening, flags{}, "resume", none, opening, flags{}},
		{closing, flags{}, "resume", none, closing, flags{}},
		{closed, flags{}, "resume", none, closed, flags{}},
		// Parking starts only from live: a close asked first goes ahead.
		{live, flags{}, "park", yes, parking, flags{}},
		{closing, flags{}, "park", none, closing, flags{}},
		{parked, flags{}, "park", none, parked, flags{}},
		// OnClose.
		{live, flags{}, "gnetClosed", outcome{step: stepEnd, fd: -1}, closed, flags{}},
		{closing, flags{}, "gnetClosed", outcome{step: stepEnd, fd: -1}, closed, flags{}},
		{opening, flags{}, "gnetClosed", outcome{step: stepEnd, fd: -1}, closed, flags{}}, // OnOpen panicked
		{parking, flags{}, "gnetClosed", none, parked, flags{}},
		{parking, rw, "gnetClosed", outcome{step: stepParkedLoop, fd: -1}, parked, flags{}},
		{parking, cw, "gnetClosed", outcome{step: stepEnd, fd: heldFD}, closed, cw},
		{closed, flags{}, "gnetClosed", none, closed, flags{}}, // refused in OnOpen after it ended
		{parked, flags{}, "gnetClosed", none, parked, flags{}},
		// The parked link's loop hands the socket back, or closes it.
		{parked, flags{}, "enroll", outcome{step: stepEnroll, fd: heldFD}, opening, flags{}},
		{parked, cw, "enroll", outcome{step: stepEnd, fd: heldFD}, closed, cw},
		{parking, flags{}, "enroll", none, parking, flags{}},
		{closed, flags{}, "enroll", none, closed, flags{}},
		{parked, cw, "closeParked", outcome{fd: heldFD, ok: true}, closed, cw},
		{opening, cw, "closeParked", none, opening, cw},
		{closed, flags{}, "closeParked", none, closed, flags{}},
		// A hand-off to gnet that failed before OnOpen.
		{opening, flags{}, "enrollFailed", yes, closed, flags{}},
		{opening, cw, "enrollFailed", yes, closed, cw},
		{live, flags{}, "enrollFailed", none, live, flags{}},
		{closed, flags{}, "enrollFailed", none, closed, flags{}},
	}
	for _, tc := range tests {
		name := tc.from.String() + "/" + tc.event
		s := &parkState{phase: tc.from, fd: heldFD, closeWanted: tc.flags.closeWanted, resumeWanted: tc.flags.resumeWanted}
		s.home.Store(oldHome)
		got := events[tc.event](s)
		if got != tc.want {
			t.Errorf("%s: got %+v, want %+v", name, got, tc.want)
		}
		if s.phase != tc.wantPhase {
			t.Errorf("%s: phase %s, want %s", name, s.phase, tc.wantPhase)
		}
		if (flags{s.closeWanted, s.resumeWanted}) != tc.wantFlags {
			t.Errorf("%s: flags %+v, want %+v", name, flags{s.closeWanted, s.resumeWanted}, tc.wantFlags)
		}
	}
}

// TestParkOpenedMovesHome: a link that opens lives on its new home; one
// refused keeps no home it never had.
func TestParkOpenedMovesHome(t *testing.T) {
	s := &parkState{}
	s.home.Store(oldHome)
	s.opened(newHome)
	if s.home.Load() != newHome || s.where(newHome) != here || s.where(oldHome) != moved {
		t.Fatal("an opened link is not at its new home")
	}
	s = &parkState{phase: closed}
	s.home.Store(oldHome)
	s.opened(newHome)
	if s.home.Load() != oldHome {
		t.Fatal("a link refused in OnOpen moved")
	}
}

func TestParkWhere(t *testing.T) {
	tests := []struct {
		phase     phase
		home, ask *home
		want      place
	}{
		{live, oldHome, oldHome, here},
		{closing, oldHome, oldHome, here},
		{parking, oldHome, oldHome, heldHere},
		{parked, oldHome, oldHome, heldHere},
		{live, newHome, oldHome, moved},
		{parked, newHome, oldHome, moved},
		{opening, oldHome, oldHome, gone},
		{closed, oldHome, oldHome, gone},
	}
	for _, tc := range tests {
		s := &parkState{phase: tc.phase}
		s.home.Store(tc.home)
		if got := s.where(tc.ask); got != tc.want {
			t.Errorf("%s: where = %d, want %d", tc.phase, got, tc.want)
		}
	}
}

// ledger checks the rules of parkState over any sequence of transitions:
// the link ends once, and a held descriptor is taken once (enrolled or
// closed) for each time parking started.
type ledger struct {
	ends, parks, taken int
}

func (g *ledger) note(event string, o outcome) {
	switch {
	case event == "park" && o.ok:
		g.parks++
	case o.step == stepEnroll:
		g.taken++
	case o.step == stepEnd || ((event == "closeParked" || event == "enrollFailed") && o.ok):
		g.ends++
		if o.fd >= 0 {
			g.taken++
		}
	}
}

// heldNow is how many descriptors the state holds (0 or 1).
func heldNow(s *parkState) int {
	if s.phase == parking || s.phase == parked {
		return 1
	}
	return 0
}

func TestParkRandomSequences(t *testing.T) {
	names := make([]string, 0, len(events))
	for n := range events {
		names = append(names, n)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for run := 0; run < 20000; run++ {
		s := &parkState{}
		s.home.Store(oldHome)
		var g ledger
		var trail []string
		for i := 0; i < 12; i++ {
			ev := names[rng.IntN(len(names))]
			trail = append(trail, ev)
			g.note(ev, events[ev](s))
			if g.ends > 1 {
				t.Fatalf("ended twice: %v", trail)
			}
			if g.ends == 1 && s.phase != closed {
				t.Fatalf("ended but %s: %v", s.phase, trail)
			}
			if g.taken+heldNow(s) != g.parks {
				t.Fatalf("%d parks, %d descriptors taken, %d held: %v", g.parks, g.taken, heldNow(s), trail)
			}
		}
	}
}

// TestParkCloseRacesEnroll: Close from other goroutines against the loop
// handing the socket back (the race that once enrolled a socket the engine
// no longer tracked): exactly one of them takes the descriptor, and the
// link ends once.
func TestParkCloseRacesEnroll(t *testing.T) {
	for run := 0; run < 2000; run++ {
		s := &parkState{phase: parked, fd: heldFD}
		s.home.Store(oldHome)
		var taken, ends atomic.Int32
		var wg sync.WaitGroup
		wg.Add(3)
		go func() { // the parked link's loop: a parkedTask, then a closeTask
			defer wg.Done()
			switch st, _, _ := s.enrollStarts(); st {
			case stepEnroll:
				taken.Add(1)
				// The enroll goroutine then finds a close waiting: OnOpen
				// refuses, and OnClose ends the link.
				if !s.opened(newHome) {
					if st, _ := s.gnetClosed(); st == stepEnd {
						ends.Add(1)
					}
				}
			case stepEnd:
				taken.Add(1)
				ends.Add(1)
			}
			if _, ok := s.closeParked(); ok {
				taken.Add(1)
				ends.Add(1)
			}
		}()
		for range 2 {
			go func() {
				defer wg.Done()
				s.closeAsked()
			}()
		}
		wg.Wait()
		if taken.Load() != 1 {
			t.Fatalf("descriptor taken %d times", taken.Load())
		}
		if ends.Load() > 1 || (s.phase == closed) != (ends.Load() == 1) {
			t.Fatalf("ended %d times, phase %s", ends.Load(), s.phase)
		}
		// A close always lands: if the link went live, it is closing.
		if s.phase != closed && s.phase != closing {
			t.Fatalf("a close was lost: %s", s.phase)
		}
	}
}
