# docker-mlist: build, install, test and release. `make check` is the test command.

GO        ?= go
TAGS      := containers_image_openpgp
# A release is a tag (v1.2.0); elsewhere the version says it is a development build.
VERSION   ?= $(shell git describe --tags --dirty 2>/dev/null || echo 0.0.0-dev)
COMMIT    ?= $(shell git describe --always --dirty --abbrev=12 --exclude='*' 2>/dev/null)
LDFLAGS   := -s -w -X main.version=$(VERSION) -X main.commit=$(COMMIT)
BINARY    := bin/docker-mlist
# Unit-test trees; those that do not exist (yet) are left out.
UNIT_DIRS := manifestlist plugin copy registry internal
# Where `make cross` (part of `make check`) builds every release target.
CROSS_DIR := bin/cross

# Go lives in /usr/local/go on the project's machines, not always in PATH.
export PATH := $(PATH):/usr/local/go/bin
export CGO_ENABLED := 0
export GOFLAGS := -buildvcs=false
export VERSION COMMIT

.PHONY: all build install test e2e check deps cross release docs bench demo setup fmt vet clean fuzz

all: build

build:
	$(GO) build -trimpath -ldflags "$(LDFLAGS)" -tags $(TAGS) -o $(BINARY) ./cmd/docker-mlist

install: build
	BINARY=$(BINARY) ./install.sh

test:
	@pkgs=$$(for d in $(UNIT_DIRS); do [ -d "$$d" ] && echo "./$$d/..."; done); \
	pkgs=$$([ -n "$$pkgs" ] && $(GO) list -e -tags $(TAGS) $$pkgs 2>/dev/null); \
	if [ -z "$$pkgs" ]; then echo "make test: no unit-test packages yet"; exit 0; fi; \
	echo $(GO) test -tags $(TAGS) $$pkgs; \
	$(GO) test -tags $(TAGS) $$pkgs

# The suite, and the tests of its own helpers (the fault-injecting proxy).
e2e:
	$(GO) test -tags $(TAGS) -count=1 -timeout 20m ./e2e/ ./e2e/internal/...

# The test command: install missing test tools, unit tests, every release
# target cross-compiled, the fuzz targets when there are any, then the
# end-to-end suite.
check: deps test cross
	@if $(MAKE) -n fuzz >/dev/null 2>&1; then $(MAKE) fuzz; fi
	$(MAKE) e2e

# Missing tools are installed; where that is impossible (no root), the unit
# tests still run and the end-to-end suite then fails naming what is missing
# (`make test` runs the unit tests alone). In CI the check stops here.
deps:
	@./scripts/setup.sh </dev/null || case "$${CI:-}" in ""|0|false) \
		echo "make check: continuing without them; the end-to-end tests will fail naming them" >&2;; \
		*) exit 1;; esac

cross:
	./scripts/release.sh --no-sums $(CROSS_DIR)

# Static binaries for every platform Docker runs the CLI on, with SHA256SUMS.
release:
	./scripts/release.sh dist

# Regenerate docs/reference from the command tree (a test fails when stale).
docs:
	$(GO) run -tags $(TAGS) ./internal/docsgen docs/reference

bench:
	@PATH="$$(GO=$(GO) ./scripts/peers.sh):$$PATH"; export PATH; pkgs=./e2e/; [ -d manifestlist ] && [ -n "$$($(GO) list -e -tags $(TAGS) ./manifestlist/... 2>/dev/null)" ] && pkgs="$$pkgs ./manifestlist/..."; \
	echo $(GO) test -tags $(TAGS) -run '^$$' -bench . $$pkgs; \
	$(GO) test -tags $(TAGS) -run '^$$' -bench . $$pkgs

# Each fuzz target (func FuzzXxx in a unit-test package) for FUZZTIME,
# starting from its seed corpus in testdata/fuzz/. The budget is a count of
# executions, not a duration: Go 1.26's fuzz coordinator can report a bogus
# "context deadline exceeded" when a duration runs out on a loaded machine
# (golang/go#75804, fixed in 1.27).
# Targets that work on files run about 50 times slower and get a smaller count.
FUZZTIME ?= 30000x
FUZZTIME_FILES ?= 1000x
FUZZ_FILES := FuzzDraftFiles
fuzz:
	@set -e; for dir in $$(find $(UNIT_DIRS) -name '*_test.go' 2>/dev/null | xargs -r grep -l '^func Fuzz' | xargs -r -n1 dirname | sort -u); do \
	  for f in $$(sed -n 's/^func \(Fuzz[A-Za-z0-9_]*\)(.*/\1/p' $$dir/*_test.go); do \
	    n=$(FUZZTIME); case " $(FUZZ_FILES) " in *" $$f "*) n=$(FUZZTIME_FILES);; esac; \
	    echo "fuzz ./$$dir $$f ($$n)"; $(GO) test -tags $(TAGS) -run '^$$' -fuzz "^$$f$$" -fuzztime $$n ./$$dir/; \
	  done; done

# Installs the plugin, then runs it against a registry embedded in a Go
# program of the project: no docker-registry package, no root.
demo: install
	BINARY=$(BINARY) ./scripts/demo.sh

setup:
	./scripts/setup.sh

fmt:
	gofmt -l -w .

vet:
	$(GO) vet -tags $(TAGS) ./...
	cd tools/registry && $(GO) vet ./...

clean:
	rm -rf bin dist
