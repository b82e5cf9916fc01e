package syncer

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"syscall"
)

// Lock is an overlap lock: at most one holder at a time, across
// goroutines and processes. Across processes it is flock(2) on a file,
// which the kernel releases when the holder dies, however it dies: unlike
// the article's touch/rm lock file, a crash never leaves it stuck.
//
// The zero value is an in-process lock only. A Lock must not be copied
// after first use.
type Lock struct {
	// Path is the lock file, created if missing and never removed
	// (removing it would let two processes lock two different files).
	// Empty: the lock only excludes holders in this process.
	Path string

	mu   sync.Mutex
	held bool
}

// TryLock takes the lock without waiting. It returns ErrBusy when
// another holder has it; the returned function releases it.
func (l *Lock) TryLock() (unlock func(), err error) {
	l.mu.Lock()
	if l.held {
		l.mu.Unlock()
		return nil, ErrBusy
	}
	l.held = true
	l.mu.Unlock()
	release := func() {
		l.mu.Lock()
		l.held = false
		l.mu.Unlock()
	}
	if l.Path == "" {
		return release, nil
	}
	f, err := lockFile(l.Path)
	if err != nil {
		release()
		return nil, err
	}
	return func() {
		f.Close() // closing the last descriptor releases the flock
		release()
	}, nil
}

// lockFile opens path and takes an exclusive, non-blocking flock on it.
// The descriptor is close-on-exec, so programs the holder starts do not
// inherit the lock.
func lockFile(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("syncer: lock %s: %w", path, err)
	}
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if !errors.Is(err, syscall.EINTR) {
			break
		}
	}
	if err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("syncer: lock %s: %w", path, ErrBusy)
		}
		return nil, fmt.Errorf("syncer: lock %s: %w", path, err)
	}
	return f, nil
}
