package syncer

import (
	"os"
	"path/filepath"
	"strings"
)

// Test hooks into the daemon transport, for the tests in syncer_test
// that run it against a real sshd (which the package's own tests cannot
// import).

// WatcherTunnel returns the local address and password of w's daemon
// tunnel, and the ssh settings and -L spec of its forward.
func WatcherTunnel(w *Watcher) (addr, password string, ssh SSH, forward string, ok bool) {
	p, isPeer := w.run.(*peerRsync)
	if !isPeer {
		return "", "", SSH{}, "", false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.t == nil || !p.t.alive() {
		return "", "", SSH{}, "", false
	}
	b, err := os.ReadFile(filepath.Join(p.t.dir, "password"))
	if err != nil {
		return "", "", SSH{}, "", false
	}
	return p.t.addr, strings.TrimSpace(string(b)), p.t.master.SSH(), p.t.forward, true
}
