# The two commands of the README: `make demo` and `make test`.
GO ?= go
export PATH := $(PATH):/usr/local/go/bin

.PHONY: test demo vet fmt-check

## test: vet, then every test with the race detector against real servers
test: fmt-check vet
	$(GO) test -race -count=1 -timeout 20m ./...

## demo: the main job on the embedded default (SQLite + in-memory store)
demo:
	$(GO) run ./cmd/yokedcache demo

vet:
	$(GO) vet ./...

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
