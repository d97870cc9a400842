package redisstore_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/yokedcache/yoked/tagstore/memory"
	"github.com/yokedcache/yoked/tagstore/redisstore"
)

// Two services share one Redis and one namespace: an invalidation made by
// one is seen by the other's next lookup, including the entries it keeps in
// its in-process L1.
func Example_sharedAcrossServices() {
	ctx := context.Background()
	open := func() *redisstore.Store {
		l1, err := memory.New(nil)
		if err != nil {
			log.Fatal(err)
		}
		s, err := redisstore.NewFromURL("redis://127.0.0.1:6379/0?namespace=shop", redisstore.Options{L1: l1, L1TTL: 2 * time.Second})
		if err != nil {
			log.Fatal(err)
		}
		return s
	}
	billing, orders := open(), open()
	defer billing.Close()
	defer orders.Close()

	// orders caches a value under user:42.
	_, _, stamp, err := orders.Lookup(ctx, "profile:42", []string{"user:42"})
	if err != nil {
		log.Fatal(err)
	}
	if err := orders.Set(ctx, "profile:42", "Ada, free plan", 14, time.Minute, stamp); err != nil {
		log.Fatal(err)
	}
	// billing changes user 42 and says so.
	if err := billing.InvalidateTags(ctx, "user:42"); err != nil {
		log.Fatal(err)
	}
	_, hit, _, err := orders.Lookup(ctx, "profile:42", []string{"user:42"})
	fmt.Println(hit, err)
}
