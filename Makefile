# The README's commands: `make test` (what CI runs, through .ci/run) and
# `make demo`. Tests need the real servers; .ci/run starts them, and
# internal/testenv says what to start when one is missing.
GO ?= go
export PATH := $(PATH):/usr/local/go/bin

.PHONY: test vet fmt-check demo

## test: vet, then every test once with the race detector
test: vet
	$(GO) test -race -count=1 -timeout 15m ./...

## vet: go vet on every package
vet:
	$(GO) vet ./...

## fmt-check: fail if gofmt would change a tracked Go file
fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './.git/*')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

## demo: the yokedcache demo
demo:
	$(GO) run ./cmd/yokedcache demo
