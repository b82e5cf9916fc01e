package dnsprovider_test

import (
	"context"
	"testing"
	"time"

	"github.com/libdns/libdns"
)

type libdnsRecord = libdns.Record

func libdnsRR(name, typ, data string) libdns.RR {
	return libdns.RR{Name: name, Type: typ, Data: data, TTL: time.Minute}
}

func contextWithTimeout(t *testing.T, d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(t.Context(), d)
}
