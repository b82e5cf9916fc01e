package ippool

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"syscall"
)

// Sentinel errors. Test with errors.Is.
var (
	// ErrNoInterface: the interface named in the configuration does not
	// exist (in the namespace given).
	ErrNoInterface = errors.New("ippool: no such interface")
	// ErrAddressInUse: another host answered an ARP probe for the address
	// this node was about to claim. The claim is refused.
	ErrAddressInUse = errors.New("ippool: address in use by another host")
	// ErrPermission: the kernel refused an operation for lack of a
	// capability; the error text names it (CAP_NET_ADMIN, CAP_NET_RAW).
	ErrPermission = errors.New("ippool: operation not permitted")
	// ErrNoReply: an ARP request got no answer in time.
	ErrNoReply = errors.New("ippool: no ARP reply")
	// ErrStepFailed: a resource group step failed; the group was rolled
	// back (see *StepError).
	ErrStepFailed = errors.New("ippool: group step failed")
)

// PermissionError says which capability an operation needed.
type PermissionError struct {
	// Op is what was attempted ("add 10.0.0.5/24 to eth0").
	Op string
	// Capability is CAP_NET_ADMIN (addresses, links) or CAP_NET_RAW (ARP
	// and neighbour advertisement sockets).
	Capability string
	Err        error
}

func (e *PermissionError) Error() string {
	return fmt.Sprintf("ippool: %s: %v (needs %s: run as root or grant the capability)", e.Op, e.Err, e.Capability)
}

// Unwrap returns the system error (EPERM or EACCES).
func (e *PermissionError) Unwrap() error { return e.Err }

// Is makes errors.Is(err, ErrPermission) true.
func (e *PermissionError) Is(target error) bool { return target == ErrPermission }

// AddressInUseError names the host (by MAC address) that answered for an
// address this node wanted to claim.
type AddressInUseError struct {
	Addr netip.Addr
	MAC  net.HardwareAddr
}

func (e *AddressInUseError) Error() string {
	return fmt.Sprintf("ippool: %s is already used by %s: refusing to claim it", e.Addr, e.MAC)
}

// Is makes errors.Is(err, ErrAddressInUse) true.
func (e *AddressInUseError) Is(target error) bool { return target == ErrAddressInUse }

// sysErr turns EPERM/EACCES into a *PermissionError naming capability,
// and wraps anything else with op.
func sysErr(op, capability string, err error) error {
	if errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.EACCES) {
		return &PermissionError{Op: op, Capability: capability, Err: err}
	}
	return fmt.Errorf("ippool: %s: %w", op, err)
}
