package gnetdrv

import (
	"sync"
	"sync/atomic"

	"github.com/panjf2000/gnet/v2"
	"golang.org/x/sys/unix"
)

// phase is where a link's socket is, and so who may act on it.
type phase uint8

const (
	// opening: the socket is on its way onto a loop (accepted, dialed, or
	// enrolled again after parking); gnet's OnOpen makes it live. Until
	// then the goroutine handing it to gnet owns the link.
	opening phase = iota
	// live: a gnet connection reads and writes the socket; its loop owns
	// the link.
	live
	// closing: live, and a close was asked: it is never parked again.
	closing
	// parking: OnTraffic returned gnet.Close to take the socket off its
	// loop; the driver holds a duplicate of it until OnClose.
	parking
	// parked: only the duplicate is left and nothing reads it, so the
	// kernel's buffers, not the relay's memory, hold the sender back. The
	// loop it was parked on owns the link: it feeds the engine what was
	// read before parking, writes answers to the duplicate, and decides
	// whether it is enrolled again or closed.
	parked
	// closed: the engine was told and the connection cap released.
	closed
)

var phaseNames = [...]string{"opening", "live", "closing", "parking", "parked", "closed"}

func (p phase) String() string { return phaseNames[p] }

// step is what a transition asks its caller to do, outside the lock.
type step uint8

const (
	stepNone       step = iota
	stepCloseGnet       // close the live gnet connection; its OnClose ends the link
	stepWakeGnet        // wake the live gnet connection so OnTraffic feeds the engine
	stepParkedLoop      // run the work on the parked link's loop (a parkedTask or a closeTask)
	stepEnroll          // enroll the returned descriptor on a loop
	stepEnd             // end the link: close the returned descriptor, if any, tell the engine, release the cap
)

// parkState is a link's phase and what it holds while parked. Every change
// of phase is a method here, under one mutex; the methods only decide, and
// the caller does the I/O they return. Three rules follow:
//   - a held descriptor is taken once, either to be enrolled
//     (enrollStarts) or to be closed (a move into closed): never both;
//   - closed is entered once, and the caller that entered it ends the
//     link (engine told, cap released) exactly once;
//   - Close in any phase is safe: it acts at once where the socket is
//     the caller's to close, and otherwise leaves closeWanted for the
//     owner's next transition.
type parkState struct {
	mu sync.Mutex
	// home is where the link lives: set when it opens, kept while it is
	// parked (its loop owns the parked link). Read without the lock by
	// Wake; changed only under it.
	home         atomic.Pointer[home]
	moveTo       gnet.EventLoop // the loop to enroll on next; nil: gnet's choice
	fd           int            // the duplicate, while parking or parked
	phase        phase
	resumeWanted bool // the engine resumed while parking
	closeWanted  bool // a close came while the socket was not the caller's to close
}

// opened is OnOpen: the socket is live on h. False means the link must not
// open (a close came while it was opening, or it ended meanwhile): the
// caller returns gnet.Close, and OnClose ends it if it has not ended.
func (s *parkState) opened(h *home) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.phase != opening {
		return false
	}
	s.home.Store(h)
	if s.closeWanted {
		s.phase = closing
		return false
	}
	s.phase = live
	return true
}

// closeAsked is Link.Close. It returns the home to act on.
func (s *parkState) closeAsked() (step, *home) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch s.phase {
	case live:
		s.phase = closing
		return stepCloseGnet, s.home.Load()
	case parked:
		s.closeWanted = true
		return stepParkedLoop, s.home.Load()
	case opening, parking:
		s.closeWanted = true
	}
	return stepNone, nil
}

// resumeAsked is Link.Resume. It returns the home to act on.
func (s *parkState) resumeAsked() (step, *home) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch s.phase {
	case live:
		return stepWakeGnet, s.home.Load()
	case parking:
		s.resumeWanted = true
	case parked:
		return stepParkedLoop, s.home.Load()
	}
	// opening: OnOpen feeds what is held; closing, closed: nothing to feed.
	return stepNone, nil
}

// parkStarts is OnTraffic deciding to take the socket off its loop, with
// fd a duplicate of it; moveTo, when set, is the loop to enroll on next.
// False means a close was asked first: the caller closes fd and lets the
// close proceed.
func (s *parkState) parkStarts(fd int, moveTo gnet.EventLoop) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.phase != live {
		return false
	}
	s.phase = parking
	s.fd = fd
	s.moveTo = moveTo
	s.resumeWanted = false
	s.closeWanted = false
	return true
}

// gnetClosed is OnClose. stepEnd comes with the descriptor to close (-1 for
// none); stepParkedLoop means parked now, with a resume to run on the loop.
func (s *parkState) gnetClosed() (step, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch s.phase {
	case parking:
		if s.closeWanted {
			s.phase = closed
			return stepEnd, s.fd
		}
		s.phase = parked
		if s.resumeWanted {
			s.resumeWanted = false
			return stepParkedLoop, -1
		}
		return stepNone, -1
	case opening, live, closing:
		// opening: OnOpen failed before the link opened.
		s.phase = closed
		return stepEnd, -1
	}
	// closed: a connection refused in OnOpen. parked: no gnet connection
	// exists to close.
	return stepNone, -1
}

// enrollStarts is the parked link's loop handing the socket back to gnet,
// the engine having taken what was held and asking for more. stepEnroll
// comes with the descriptor and the loop to enroll on (nil: any);
// stepEnd with the descriptor to close, when a close came first.
func (s *parkState) enrollStarts() (step, int, gnet.EventLoop) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.phase != parked {
		return stepNone, -1, nil
	}
	if s.closeWanted {
		s.phase = closed
		return stepEnd, s.fd, nil
	}
	s.phase = opening
	to := s.moveTo
	s.moveTo = nil
	return stepEnroll, s.fd, to
}

// closeParked is the close of a parked link, on its loop: the descriptor
// to close, and whether the caller ends the link.
func (s *parkState) closeParked() (int, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.phase != parked {
		return -1, false
	}
	s.phase = closed
	return s.fd, true
}

// enrollFailed is a hand-off to gnet that failed before OnOpen (a socket
// reset while parked, gnet refusing it). True: the caller ends the link.
// False: it opened or ended meanwhile, and nothing is left to do.
func (s *parkState) enrollFailed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.phase != opening {
		return false
	}
	s.phase = closed
	return true
}

// place is where a task posted for a home finds the link.
type place uint8

const (
	gone     place = iota // opening or closed: nothing for this task to do
	here                  // live on this home
	heldHere              // parking or parked on this home
	moved                 // live or parked on another home
)

// where tells a task posted for h whether h still owns the link. Only the
// owner's own loop moves a link away from it, so the answer holds for the
// rest of a task running on h's loop.
func (s *parkState) where(h *home) place {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch s.phase {
	case opening, closed:
		return gone
	}
	if s.home.Load() != h {
		return moved
	}
	if s.phase == live || s.phase == closing {
		return here
	}
	return heldHere
}

// writeHeld writes p to the held descriptor: what the socket takes now.
// ok is false when none is held (the link ended meanwhile).
func (s *parkState) writeHeld(p []byte) (n int, ok bool, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.phase != parking && s.phase != parked {
		return 0, false, nil
	}
	n, err = unix.Write(s.fd, p)
	if err == unix.EAGAIN || err == unix.EINTR {
		return 0, true, nil
	}
	if n < 0 {
		n = 0
	}
	return n, true, err
}
