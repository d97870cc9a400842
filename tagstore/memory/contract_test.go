package memory

import (
	"testing"

	"github.com/yokedcache/yoked/tagstore"
	"github.com/yokedcache/yoked/tagstore/storetest"
)

func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) tagstore.Store { return newStore(t, nil) })
}
