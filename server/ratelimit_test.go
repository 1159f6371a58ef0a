package server

import (
	"fmt"
	"net/netip"
	"testing"
	"time"
)

// TestCredentialLimiterMemoryIsBounded has three times as many addresses
// as the limiter keeps each present a wrong credential within a moment:
// it keeps as many as it may, the most recent, and still limits those.
func TestCredentialLimiterMemoryIsBounded(t *testing.T) {
	now := time.Now()
	const max, clients = 1000, 3000
	l := newCredentialLimiter(max, func() time.Time { return now })
	for i := range clients {
		if giveBack, _ := l.try(clientName(i)); giveBack == nil {
			t.Fatalf("client %d: refused its first try", i)
		}
	}
	if got := len(l.clients); got > max || l.recent.Len() != got {
		t.Errorf("after %d clients: %d kept (%d in order), want at most %d", clients, got, l.recent.Len(), max)
	}
	last := clientName(clients - 1)
	for range credentialBurst - 1 {
		l.try(last)
	}
	if giveBack, wait := l.try(last); giveBack != nil || wait != credentialEvery {
		t.Errorf("a recent client's sixth try: got one, or a wait of %v; want none for %v", wait, credentialEvery)
	}
}

func clientName(i int) string {
	return netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}).String()
}

// BenchmarkCredentialLimiterFlood is one wrong credential of a new address
// each time, with the limiter holding as many clients as it keeps.
func BenchmarkCredentialLimiterFlood(b *testing.B) {
	now := time.Now()
	l := newCredentialLimiter(credentialMaxClients, func() time.Time { return now })
	for i := range credentialMaxClients {
		l.try(fmt.Sprintf("fill-%d", i))
	}
	i := 0
	for b.Loop() {
		l.try(clientName(i))
		i++
	}
}
