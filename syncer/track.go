package syncer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/understudy-ha/understudy/health"
)

// Record is what a [Store] remembers about one sync.
type Record struct {
	// LastSuccess is when the last successful run started, the time the
	// copy is known fresh as of (zero: never).
	LastSuccess time.Time `json:"last_success,omitzero"`
	// LastRun is the `at` of the last run recorded, successful or not.
	LastRun time.Time `json:"last_run,omitzero"`
	// LastError is the error of the last run when it failed ("" when it
	// succeeded).
	LastError string `json:"last_error,omitempty"`
}

// Store remembers the outcome of each sync beyond the process that ran
// it, so that a freshness check in another process (a cron `tick` after
// a cron `sync`, or a restarted daemon) sees it. Implementations must be
// safe for concurrent use, also from several processes.
type Store interface {
	// Load returns the record of the named sync; the zero Record when
	// nothing is known about it.
	Load(ctx context.Context, name string) (Record, error)
	// Update records a run of the named sync, failed with runErr (nil:
	// it succeeded): `at` is when a success started (what the copy is
	// fresh as of) or when a failure ended. A failure keeps the last
	// success.
	Update(ctx context.Context, name string, at time.Time, runErr error) error
}

// FileStore is a [Store] in one small JSON file, an object mapping each
// sync's name to its [Record]. Updates hold an flock on Path+".lock" for
// the read-modify-write and replace the file atomically (a temporary
// file in the same directory, synced, then renamed), so readers never
// see half a file and concurrent writers do not lose each other's
// records. A missing file means nothing is known yet.
type FileStore struct {
	// Path is the JSON file; its directory must exist.
	Path string
}

var _ Store = (*FileStore)(nil)

// Load returns the record of name.
func (s *FileStore) Load(ctx context.Context, name string) (Record, error) {
	all, err := s.read()
	if err != nil {
		return Record{}, err
	}
	return all[name], nil
}

// Update records a run of name at `at` with runErr (see [Store]).
func (s *FileStore) Update(ctx context.Context, name string, at time.Time, runErr error) error {
	lock, err := os.OpenFile(s.Path+".lock", os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return fmt.Errorf("syncer: sync record: %w", err)
	}
	defer lock.Close() // closing releases the flock
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return fmt.Errorf("syncer: sync record: lock %s: %w", lock.Name(), err)
	}
	all, err := s.read()
	if err != nil {
		return err
	}
	r := all[name]
	r.LastRun, r.LastError = at, ""
	if runErr != nil {
		r.LastError = runErr.Error()
	} else {
		r.LastSuccess = at
	}
	all[name] = r
	return s.write(all)
}

func (s *FileStore) read() (map[string]Record, error) {
	all := map[string]Record{}
	b, err := os.ReadFile(s.Path)
	if errors.Is(err, fs.ErrNotExist) {
		return all, nil
	}
	if err != nil {
		return nil, fmt.Errorf("syncer: sync record: %w", err)
	}
	if err := json.Unmarshal(b, &all); err != nil {
		return nil, fmt.Errorf("syncer: sync record %s: %w", s.Path, err)
	}
	return all, nil
}

func (s *FileStore) write(all map[string]Record) error {
	b, err := json.MarshalIndent(all, "", "  ")
	if err != nil {
		return fmt.Errorf("syncer: sync record: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(s.Path), "."+filepath.Base(s.Path)+".*")
	if err != nil {
		return fmt.Errorf("syncer: sync record: %w", err)
	}
	defer os.Remove(tmp.Name()) // fails harmlessly after the rename
	_, err = tmp.Write(append(b, '\n'))
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), s.Path)
	}
	if err != nil {
		return fmt.Errorf("syncer: sync record %s: %w", s.Path, err)
	}
	return nil
}

// TrackOption configures a [Tracker].
type TrackOption func(*Tracker)

// WithStore makes the Tracker record every run of the sync called name
// in st, and its Fresh check consult st as well as its memory (default:
// memory only).
func WithStore(name string, st Store) TrackOption {
	return func(t *Tracker) { t.name, t.store = name, st }
}

// Fresh returns a health check that passes while the last success of
// name recorded in st is less than maxAge old: the check for a process
// that does not run the sync itself. Its failures are *health.Error of
// kind "sync" wrapping ErrStale (with the last run's error, if any), or
// the Store's error.
func Fresh(st Store, name string, maxAge time.Duration) health.Checker {
	return freshCheck(name, maxAge, time.Now, func(ctx context.Context) (time.Time, error, error) {
		r, err := st.Load(ctx, name)
		if err != nil {
			return time.Time{}, nil, err
		}
		return r.LastSuccess, r.lastErr(), nil
	})
}

// lastErr is the error of the last run when it came after the last
// success.
func (r Record) lastErr() error {
	if r.LastError == "" || r.LastRun.Before(r.LastSuccess) {
		return nil
	}
	return errors.New(r.LastError)
}

// freshCheck is the freshness check over last, which returns the last
// success, the last run's error and an error reading them.
func freshCheck(name string, maxAge time.Duration, now func() time.Time, last func(context.Context) (time.Time, error, error)) health.Checker {
	return health.CheckerFunc(func(ctx context.Context) error {
		lastOK, lastErr, err := last(ctx)
		if err != nil {
			return &health.Error{Kind: "sync", Target: name, Err: err}
		}
		switch age := now().Sub(lastOK); {
		case lastOK.IsZero() && lastErr != nil:
			err = fmt.Errorf("%w: never succeeded; last error: %w", ErrStale, lastErr)
		case lastOK.IsZero():
			err = fmt.Errorf("%w: never succeeded", ErrStale)
		case age < maxAge:
			return nil
		case lastErr != nil:
			err = fmt.Errorf("%w: last success %s ago (limit %s); last error: %w", ErrStale, age.Round(time.Second), maxAge, lastErr)
		default:
			err = fmt.Errorf("%w: last success %s ago (limit %s)", ErrStale, age.Round(time.Second), maxAge)
		}
		return &health.Error{Kind: "sync", Target: name, Err: err}
	})
}
