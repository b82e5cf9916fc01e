package notify_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/understudy-ha/understudy/failover"
	"github.com/understudy-ha/understudy/failover/notify"
)

// recorder is a Notifier that records the kinds it was given and returns
// err.
type recorder struct {
	mu    sync.Mutex
	kinds []failover.EventKind
	err   error
}

func (r *recorder) Notify(_ context.Context, e failover.Event) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.kinds = append(r.kinds, e.Kind)
	return r.err
}

func (r *recorder) got() []failover.EventKind {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]failover.EventKind(nil), r.kinds...)
}

var allKinds = []failover.EventKind{
	failover.EventCheckWarn, failover.EventCheckDown, failover.EventCheckUp,
	failover.EventNodeDown, failover.EventNodeUp, failover.EventIsolated,
	failover.EventWitnessOK, failover.EventNoHealthyNode, failover.EventHeldDown,
	failover.EventFailbackPending, failover.EventSwitchIntended, failover.EventSwitchResumed,
	failover.EventSwitchDone, failover.EventSwitchFailed, failover.EventStateReset,
}

func TestFilter(t *testing.T) {
	tests := []struct {
		name  string
		kinds []failover.EventKind
		want  []failover.EventKind
	}{
		{"default mail kinds", notify.DefaultMailKinds(), []failover.EventKind{
			failover.EventCheckDown, failover.EventCheckUp, failover.EventNodeDown,
			failover.EventNodeUp, failover.EventIsolated, failover.EventWitnessOK,
			failover.EventNoHealthyNode, failover.EventSwitchDone, failover.EventSwitchFailed,
			failover.EventStateReset,
		}},
		{"one kind", []failover.EventKind{failover.EventSwitchDone}, []failover.EventKind{failover.EventSwitchDone}},
		{"none", nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &recorder{}
			f := notify.Filter(rec, tt.kinds...)
			for _, k := range allKinds {
				require.NoError(t, f.Notify(t.Context(), failover.Event{Kind: k}))
			}
			assert.Equal(t, tt.want, rec.got())
		})
	}
}

func TestFilterPassesErrors(t *testing.T) {
	boom := errors.New("boom")
	f := notify.Filter(&recorder{err: boom}, failover.EventNodeDown)
	require.ErrorIs(t, f.Notify(t.Context(), failover.Event{Kind: failover.EventNodeDown}), boom)
	require.NoError(t, f.Notify(t.Context(), failover.Event{Kind: failover.EventNodeUp}))
}

func TestDefaultMailKindsIsACopy(t *testing.T) {
	k := notify.DefaultMailKinds()
	k[0] = "changed"
	assert.Equal(t, failover.EventCheckDown, notify.DefaultMailKinds()[0])
}

func TestMulti(t *testing.T) {
	errA, errC := errors.New("a failed"), errors.New("c failed")
	a, b, c := &recorder{err: errA}, &recorder{}, &recorder{err: errC}
	m := notify.Multi(a, nil, b, c)
	err := m.Notify(t.Context(), failover.Event{Kind: failover.EventNodeDown})
	require.ErrorIs(t, err, errA)
	require.ErrorIs(t, err, errC)
	for _, r := range []*recorder{a, b, c} {
		assert.Equal(t, []failover.EventKind{failover.EventNodeDown}, r.got(), "every notifier is called despite errors")
	}

	require.NoError(t, notify.Multi(b).Notify(t.Context(), failover.Event{Kind: failover.EventNodeUp}))
	require.NoError(t, notify.Multi().Notify(t.Context(), failover.Event{Kind: failover.EventNodeUp}))
}
