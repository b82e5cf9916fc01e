package gandi

import "net/netip"

// validAddr reports whether v is an address of the record type's family.
func validAddr(typ, v string) bool {
	a, err := netip.ParseAddr(v)
	if err != nil || a.Zone() != "" {
		return false
	}
	if typ == "A" {
		return a.Is4()
	}
	return a.Is6() && !a.Is4In6()
}
