package main

// A minimal weighted semaphore in the shape of
// golang.org/x/sync/semaphore.Weighted (v0.x), the peer of gort_sem: one
// sync.Mutex over the count and a FIFO list of waiters, each parked on its
// own channel that the releaser closes.  x/sync is not vendored (the Go
// build is offline and needs no modules), so this is the same algorithm,
// written out: Acquire with a context, Release, and notifyWaiters serving
// waiters strictly in order (a large request is not starved by small ones
// behind it).

import (
	"container/list"
	"context"
	"sync"
)

type semWaiter struct {
	n     int64
	ready chan<- struct{} // closed when the semaphore is acquired
}

// weighted is x/sync's semaphore.Weighted.
type weighted struct {
	size    int64
	cur     int64
	mu      sync.Mutex
	waiters list.List
}

func newWeighted(n int64) *weighted {
	return &weighted{size: n}
}

// Acquire takes n units, blocking until they are free or ctx is done (then
// ctx.Err(), nothing acquired).
func (s *weighted) Acquire(ctx context.Context, n int64) error {
	done := ctx.Done()

	s.mu.Lock()
	select {
	case <-done:
		// ctx already done: fail without acquiring, even if units are free
		s.mu.Unlock()
		return ctx.Err()
	default:
	}
	if s.size-s.cur >= n && s.waiters.Len() == 0 {
		s.cur += n
		s.mu.Unlock()
		return nil
	}

	if n > s.size {
		// never satisfiable: wait for ctx
		s.mu.Unlock()
		<-done
		return ctx.Err()
	}

	ready := make(chan struct{})
	w := semWaiter{n: n, ready: ready}
	elem := s.waiters.PushBack(w)
	s.mu.Unlock()

	select {
	case <-done:
		s.mu.Lock()
		select {
		case <-ready:
			// acquired just as ctx was done: give it back
			s.cur -= n
			s.notifyWaiters()
		default:
			isFront := s.waiters.Front() == elem
			s.waiters.Remove(elem)
			// the first waiter going away may let the next ones in
			if isFront && s.size > s.cur {
				s.notifyWaiters()
			}
		}
		s.mu.Unlock()
		return ctx.Err()

	case <-ready:
		// don't take the unit if ctx became done meanwhile
		select {
		case <-done:
			s.Release(n)
			return ctx.Err()
		default:
		}
		return nil
	}
}

// TryAcquire takes n units without blocking; false (nothing taken) if they
// are not free or someone is waiting.
func (s *weighted) TryAcquire(n int64) bool {
	s.mu.Lock()
	success := s.size-s.cur >= n && s.waiters.Len() == 0
	if success {
		s.cur += n
	}
	s.mu.Unlock()
	return success
}

// Release gives back n units.
func (s *weighted) Release(n int64) {
	s.mu.Lock()
	s.cur -= n
	if s.cur < 0 {
		s.mu.Unlock()
		panic("semaphore: released more than held")
	}
	s.notifyWaiters()
	s.mu.Unlock()
}

func (s *weighted) notifyWaiters() {
	for {
		next := s.waiters.Front()
		if next == nil {
			break // no more waiters blocked
		}
		w := next.Value.(semWaiter)
		if s.size-s.cur < w.n {
			// Not enough units for the next waiter: stop here, in FIFO
			// order, so a large request is not starved by small ones.
			break
		}
		s.cur += w.n
		s.waiters.Remove(next)
		close(w.ready)
	}
}
