# docker-mlist: build, install and test. `make check` is the test command.

GO        ?= go
TAGS      := containers_image_openpgp
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo 0.0.0-dev)
BINARY    := bin/docker-mlist
# Unit-test trees; those that do not exist (yet) are left out.
UNIT_DIRS := manifestlist plugin copy registry

export CGO_ENABLED := 0

.PHONY: all build install test e2e check bench demo setup fmt vet clean fuzz

all: build

build:
	GOFLAGS=-buildvcs=false $(GO) build -trimpath -ldflags "-s -w -X main.version=$(VERSION)" -tags $(TAGS) -o $(BINARY) ./cmd/docker-mlist

install: build
	BINARY=$(BINARY) VERSION=$(VERSION) ./install.sh

test:
	@pkgs=$$(for d in $(UNIT_DIRS); do [ -d "$$d" ] && echo "./$$d/..."; done); \
	pkgs=$$([ -n "$$pkgs" ] && $(GO) list -e -tags $(TAGS) $$pkgs 2>/dev/null); \
	if [ -z "$$pkgs" ]; then echo "make test: no unit-test packages yet"; exit 0; fi; \
	echo $(GO) test -tags $(TAGS) $$pkgs; \
	$(GO) test -tags $(TAGS) $$pkgs

e2e:
	$(GO) test -tags $(TAGS) -count=1 -timeout 20m ./e2e/

check: test e2e

bench:
	@pkgs=./e2e/; [ -d manifestlist ] && [ -n "$$($(GO) list -e -tags $(TAGS) ./manifestlist/... 2>/dev/null)" ] && pkgs="$$pkgs ./manifestlist/..."; \
	echo $(GO) test -tags $(TAGS) -run '^$$' -bench . $$pkgs; \
	$(GO) test -tags $(TAGS) -run '^$$' -bench . $$pkgs

# Each fuzz target (func FuzzXxx in a unit-test package) for FUZZTIME,
# starting from its seed corpus in testdata/fuzz/.
FUZZTIME ?= 5s
fuzz:
	@set -e; for d in $(UNIT_DIRS); do [ -d "$$d" ] || continue; \
	  for f in $$($(GO) test -tags $(TAGS) -list '^Fuzz' ./$$d/ | grep '^Fuzz'); do \
	    echo "fuzz ./$$d $$f"; $(GO) test -tags $(TAGS) -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) ./$$d/; \
	  done; done

demo: build
	BINARY=$(BINARY) ./scripts/demo.sh

setup:
	./scripts/setup.sh

fmt:
	gofmt -l -w .

vet:
	$(GO) vet -tags $(TAGS) ./...

clean:
	rm -rf bin
