# The README's commands: `make test` (what CI runs, through .ci/run) and
# `make demo`. Tests need the real servers; .ci/run starts them, and
# internal/testenv says what to start when one is missing.
GO ?= go
export PATH := $(PATH):/usr/local/go/bin

.PHONY: test vet lint nocgo-parse fmt-check tidy-check demo

# staticcheck runs by version through `go run`, so it is not a requirement of
# go.mod (which stays what `go mod tidy` writes); the build cache keeps it.
STATICCHECK ?= $(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2

## test: format, module tidiness, vet and staticcheck, then every test once with the race detector (the tests include CGO_ENABLED=0 builds of pgx, mysql and modernc.org/sqlite programs, internal/cgofree)
test: fmt-check tidy-check vet lint nocgo-parse
	$(GO) test -race -count=1 -timeout 15m ./...

## nocgo-parse: the PostgreSQL parser's tests (golden cases, invariants) on its WebAssembly build, as CGO_ENABLED=0 programs get it
nocgo-parse:
	CGO_ENABLED=0 $(GO) test -count=1 ./sqlparse/postgres ./sqlparse/dialect

## vet: go vet on every package
vet:
	$(GO) vet ./...

## lint: staticcheck with its default checks on every package (deliberate exceptions are //lint:ignore lines that say why)
lint:
	$(STATICCHECK) ./...

## fmt-check: fail if gofmt would change a tracked Go file
fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './.git/*')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

## tidy-check: fail if go.mod or go.sum is not what `go mod tidy` would write
tidy-check:
	$(GO) mod tidy -diff

## demo: the yokedcache demo
demo:
	$(GO) run ./cmd/yokedcache demo

.PHONY: stress bench fuzz

STRESS_DURATION ?= 150s
STRESS_COUNT ?= 1
FUZZTIME ?= 30s

## stress: the stale-read checker (three processes per mode under Redis faults, one of them cut off from Redis while it writes), STRESS_DURATION per mode, STRESS_COUNT times, then the totals (make test runs it once for 17s per mode)
stress:
	@log=$$(mktemp); \
	YOKED_STRESS_DURATION=$(STRESS_DURATION) $(GO) test -count=$(STRESS_COUNT) -timeout 0 -v -run '^TestStress$$' ./internal/stress 2>&1 | grep -v 'go-redis' | tee $$log; \
	echo "== stress totals (STRESS_COUNT=$(STRESS_COUNT), STRESS_DURATION=$(STRESS_DURATION) per mode)"; \
	for m in redis redis+rows redis+l1+rows; do \
		echo "$$m: $$(grep -c -- "--- PASS: TestStress/$$m " $$log) clean, $$(grep -c -- "--- FAIL: TestStress/$$m " $$log) failed"; \
	done; \
	awk '/ops checked/ { for (i = 1; i <= NF; i++) { if ($$i == "ops") ops += $$(i-1); if ($$i == "violations") v += $$(i-1) } } END { print "operations checked:", ops + 0, "- violations:", v + 0 }' $$log; \
	! grep -q -- '^--- FAIL' $$log; rc=$$?; rm -f $$log; exit $$rc

## bench: raw driver vs yoked (memory, Redis, Redis+L1) on SQLite and PostgreSQL, printed as one table (docs/benchmarks.md)
bench:
	$(GO) run ./internal/benchtable

## fuzz: every fuzz target for FUZZTIME each (parsers and the driver's hostile-input check)
fuzz:
	@set -e; for t in $$(grep -rl --include='*_test.go' '^func Fuzz' . | xargs -n1 dirname | sort -u); do \
		for f in $$(grep -h '^func Fuzz' $$t/*_test.go | sed 's/func \(Fuzz[A-Za-z0-9_]*\).*/\1/'); do \
			echo "== $$t $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$t; \
		done; \
	done

.PHONY: peers

## peers: the base drivers' own package tests (lib/pq, pgx stdlib, go-sql-driver/mysql, go-sqlite3), raw and through yoked; lists the tests that fail only through yoked (slow; not part of make test)
peers:
	$(GO) run ./internal/peers
