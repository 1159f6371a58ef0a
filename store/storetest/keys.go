package storetest

import (
	"bytes"
	"context"
	"sync"
	"testing"
)

// testFindOrCreateKeyKeepsTheFirst asks for one key from many callers at
// once, each offering a fresh key of its own (replicas starting together):
// one offer is kept and every caller gets it, as does every later caller;
// another name gets a key of its own.
func testFindOrCreateKeyKeepsTheFirst(t *testing.T, open func(*testing.T) Store) {
	db := open(t)
	ctx := context.Background()
	offer := func(i int) []byte { return bytes.Repeat([]byte{byte(i)}, 32) }
	got := make([][]byte, 20)
	var wg sync.WaitGroup
	for i := range got {
		wg.Go(func() {
			key, err := db.FindOrCreateKey(ctx, "log_links", offer(i+1))
			if err != nil {
				t.Errorf("caller %d: %v", i, err)
			}
			got[i] = key
		})
	}
	wg.Wait()
	kept := got[0]
	if len(kept) != 32 || kept[0] == 0 || int(kept[0]) > len(got) || !bytes.Equal(kept, offer(int(kept[0]))) {
		t.Fatalf("kept key %x, want one of the offers", kept)
	}
	for i, key := range got {
		if !bytes.Equal(key, kept) {
			t.Errorf("caller %d got %x, want the kept %x", i, key, kept)
		}
	}
	if key, err := db.FindOrCreateKey(ctx, "log_links", offer(99)); err != nil || !bytes.Equal(key, kept) {
		t.Errorf("a later caller: %x, %v; want the kept %x", key, err, kept)
	}
	if key, err := db.FindOrCreateKey(ctx, "other", offer(99)); err != nil || !bytes.Equal(key, offer(99)) {
		t.Errorf("another name: %x, %v; want its own offer %x", key, err, offer(99))
	}
}
