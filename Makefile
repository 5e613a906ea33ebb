# msrprelay: see README.md. Every target runs from a clean checkout.
GO        ?= go
PKGS      := ./...
# A count, not a duration: with a duration Go's fuzzing coordinator races its
# own deadline and a starved worker fails the run with a bare "context
# deadline exceeded" and no crasher (CI hit it on FuzzDigest). 300,000
# executions take 3-7 s per target on the 2-core machine.
FUZZTIME  ?= 300000x
# Fuzz targets: package:target pairs, each run for FUZZTIME by `make test`.
FUZZ_TARGETS := ./codec:FuzzParse ./codec:FuzzBodyScanner ./codec:FuzzURI ./codec:FuzzDigest ./codec:FuzzByteRange ./digest:FuzzNonceCheck ./wsshim:FuzzFeed

.PHONY: all build test test-long stress soak deb run microbench bench bench-full fuzz fuzz-long lint vet fmt clean interop

all: build

build:
	$(GO) build -o bin/ ./cmd/...

# The allocation tests run without -race (the race detector allocates).
ALLOC_PKGS := ./codec ./engine ./digest ./bench/load ./tlsshim ./wsshim

test: lint
	$(GO) test -race -count=1 $(PKGS)
	$(GO) test -count=1 -run 'Alloc' $(ALLOC_PKGS)
	$(MAKE) --no-print-directory fuzz FUZZTIME=$(FUZZTIME)

# Long cases: gigabyte transfers, memory watches, real protocol timers.
test-long:
	$(GO) test -tags long -count=1 -timeout 60m $(PKGS)

# The e2e suites of both drivers, under -race, STRESS_ROUNDS rounds at
# -cpu 1,2,4, with a CPU burner beside them: a case that only passes on an
# idle machine fails here. Stops at the first failure.
STRESS_ROUNDS ?= 10
stress:
	@sh -c 'while :; do :; done' & burner=$$!; \
	trap "kill $$burner 2>/dev/null" EXIT INT TERM; \
	for i in $$(seq $(STRESS_ROUNDS)); do \
		echo "stress round $$i of $(STRESS_ROUNDS)"; \
		$(GO) test -race -count=1 -cpu 1,2,4 -timeout 30m -run 'TestEndToEnd' ./engine/gnetdrv ./engine/goroutinedrv || exit 1; \
	done

# Bounded soak test (bench/soak): starts bin/msrprelay itself per engine on
# free ports, mixed msrp/msrps traffic for SOAK_DURATION each, every body
# checked, RSS/fds/goroutines sampled every 10 s; exit 1 on FAIL.
SOAK_DURATION ?= 30m
soak: build
	./bin/msrpbench soak --engine gnet --duration $(SOAK_DURATION) $(SOAK_ARGS)
	./bin/msrpbench soak --engine goroutine --duration $(SOAK_DURATION) $(SOAK_ARGS)

# The Debian package (dpkg-deb): bin/msrprelay_VERSION_ARCH.deb. Install
# with `apt install ./bin/msrprelay_*.deb`, then `systemctl start msrprelay`.
deb:
	./configs/deb/build.sh

run: build
	@echo "msrprelay on msrps://127.0.0.1:2855 (users alice/alice-password, bob/bob-password, realm msrprelay.local)"
	@echo "try it:  ./bin/msrpclient receive --relay 127.0.0.1:2855 --tls-ca bin/msrprelay-ephemeral.pem --user bob --password bob-password --realm-host msrprelay.local"
	@echo "         ./bin/msrpclient send --tls-ca bin/msrprelay-ephemeral.pem --to-path '<path printed by receive>' --message hello"
	@echo "metrics: http://127.0.0.1:9855/metrics"
	./bin/msrprelay --config configs/msrprelay.yaml $(RUN_ARGS)

microbench:
	$(GO) test -run '^$$' -bench . -benchmem $(PKGS)

# The load tool against both engines and the plain TCP forwarder, same
# scenarios back to back; writes latest.{md,json}, throughput.svg and
# latency.svg. `make bench` is one short run each (a few minutes) into
# bench/results/quick/; `make bench-full` is five alternating rounds with
# medians into bench/results/ (the figures the README quotes). Add a Kamailio peer with
# BENCH_ARGS='--kamailio 127.0.0.1:2866'.
BENCH_DENSITY ?= --density 9000 --active

bench: build
	./bin/msrpbench compare --quick $(BENCH_DENSITY) $(BENCH_ARGS)

bench-full: build
	./bin/msrpbench compare $(BENCH_DENSITY) $(BENCH_ARGS)

# Each fuzz target for FUZZTIME (executions, or a duration) on its seed corpus
# plus what it finds. `make fuzz FUZZTIME=10m` is the by-hand run an issue
# asks for; a duration may end in that coordinator race, so a failure there
# counts only if it wrote a crasher to testdata/fuzz.
fuzz:
	@set -e; for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; name=$${t##*:}; \
		echo "fuzz $$pkg $$name $(FUZZTIME)"; \
		$(GO) test -run '^$$' -fuzz "^$$name$$" -fuzztime $(FUZZTIME) -parallel 2 $$pkg; \
	done

lint: vet
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet $(PKGS)

fmt:
	gofmt -w $$(git ls-files '*.go')

clean:
	rm -rf bin

# A real client against the relay: python msrplib (Blink, SylkServer) over
# both engines, msrp and msrps, one and two relays. Needs the fetched msrplib
# sources in MSRPLIB=DIR, so it is not part of `make test`; see
# bench/interop/README.md. INTEROP_ARGS go to the driver (e.g. --engines gnet).
interop: build
	MSRPLIB="$(MSRPLIB)" bash bench/interop/run.sh $(INTEROP_ARGS)
