# certchain — see README.md. Two commands matter: `make run` and `make test`.
GO        ?= go
BIN       := bin/certchain
PKGS      := ./...
FUZZTIME  ?= 10s
BENCHTIME ?= 1s
BENCHCOUNT ?= 5

.PHONY: all build run test test-stress bench bench-unit bench-cluster bench-failover bench-steady bench-publish bench-ocsp bench-acme fuzz lint verify clean tools cluster cluster-stop chaos

all: build

build:
	$(GO) build -o $(BIN) ./cmd/certchain

## run: a single-node development ledger on localhost (data in ./data)
run: build
	./$(BIN) node

## tools: what the tests need and Debian may lack: gcc (the race detector needs
## cgo), openssl (OCSP interoperability tests), curl (HTTP edge tests of the API), certbot, lego and dehydrated
## (ACME client end to end tests), and the relying parties of the OCSP tests:
## nginx, curl, gnutls-cli, strongSwan's charon and swanctl with its curl
## fetcher (OCSP) and kernel-libipsec (ESP in user space) plugins, ip (network
## namespaces), jq (the commands of the README and docs/, run by TestREADME). Each entry is
## FILE:PACKAGE (a command or a file); missing ones are installed.
SWPLUGINS := /usr/lib/ipsec/plugins/libstrongswan
TOOLS := gcc:gcc openssl:openssl certbot:certbot lego:lego dehydrated:dehydrated \
	nginx:nginx curl:curl gnutls-cli:gnutls-bin ip:iproute2 jq:jq \
	/usr/lib/ipsec/charon:strongswan-charon swanctl:strongswan-swanctl \
	$(SWPLUGINS)-curl.so:libstrongswan-extra-plugins $(SWPLUGINS)-kernel-libipsec.so:libcharon-extra-plugins
tools:
	@missing=""; for t in $(TOOLS); do command -v $${t%%:*} >/dev/null || test -e $${t%%:*} || missing="$$missing $${t#*:}"; done; \
	if [ -n "$$missing" ]; then echo "installing$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing libc6-dev >/dev/null; fi

## test: every test (unit, integration on loopback, restart, tamper) under the race detector + vet
test: tools
	$(GO) vet $(PKGS)
	CGO_ENABLED=1 $(GO) test -race -count=1 -timeout 14m $(PKGS)

## test-stress: the packages that run clusters and whole nodes (STRESS_PKGS) under the race
## detector while STRESS_LOAD busy loops (`yes`, same nice level as the tests; default one
## per core) keep the machine loaded, as a shared CI machine is; the loops end with the run
STRESS_PKGS ?= ./raftstore ./cmd/certchain ./ocsp
STRESS_LOAD ?= $(shell nproc)
test-stress: tools
	@pids=""; for i in $$(seq $(STRESS_LOAD)); do yes >/dev/null & pids="$$pids $$!"; done; \
	trap 'kill $$pids 2>/dev/null' EXIT INT TERM; \
	echo "test-stress: $(STRESS_LOAD) busy loops (pids$$pids) while testing $(STRESS_PKGS)"; \
	CGO_ENABLED=1 $(GO) test -race -count=1 -timeout 30m $(STRESS_PKGS)

## cluster: three nodes on loopback (./cluster/node{1,2,3}); cluster-stop stops them
cluster: build
	deploy/local-cluster.sh start

cluster-stop:
	deploy/local-cluster.sh stop

## chaos: randomized kills, restarts and partitions under load for CHAOS (default 2m)
CHAOS ?= 2m
chaos:
	CERTCHAIN_CHAOS=$(CHAOS) $(GO) test -count=1 -run 'TestChaos' -v -timeout 0 ./raftstore

## bench: every benchmark (figures go to BENCHMARKS.md); installs wrk when missing.
##   bench-unit     component benchmarks, BENCHCOUNT runs each
##   bench-cluster  one-node and three-node commit throughput
##   bench-failover kill -9 of the leader of three node processes under load, FAILOVER_KILLS
##                  times (default 20): median and worst time to the first committed write
##   bench-steady   STEADY (default 10m) of steady writes on three node processes: elections
##                  and leader changes (none expected)
##   bench-publish  bulk publish streams to node processes: one node 100k, three nodes,
##                  and 1M (node RSS, data size, then OCSP/status), BENCHCOUNT runs
##   bench-ocsp     OCSP over loopback with wrk, 10k and 1M certificates, vs a bare handler
##   bench-acme     whole ACME orders (x/crypto/acme, http-01, finalize onto the ledger)
bench: bench-unit bench-cluster bench-failover bench-steady bench-publish bench-ocsp bench-acme

bench-unit:
	$(GO) test -run '^$$' -bench . -benchmem -benchtime $(BENCHTIME) -count $(BENCHCOUNT) ./certchain ./validator ./internal/... ./ocsp ./api ./acme
	$(GO) test -run '^$$' -bench 'LogStore' -benchmem -count $(BENCHCOUNT) ./raftstore

bench-cluster:
	$(GO) test -run '^$$' -bench 'BenchmarkPublish' -benchtime 5000x -count $(BENCHCOUNT) ./raftstore
	$(GO) test -run '^$$' -bench 'BenchmarkCluster' -benchtime 6000x -count 3 -timeout 60m ./raftstore

FAILOVER_KILLS ?= 20
bench-failover:
	CERTCHAIN_FAILOVER_KILLS=$(FAILOVER_KILLS) $(GO) test -run '^$$' -bench 'BenchmarkFailover' -benchtime 1x -v -timeout 60m ./cmd/certchain

STEADY ?= 10m
bench-steady:
	CERTCHAIN_STEADY=$(STEADY) $(GO) test -run '^$$' -bench 'BenchmarkSteadyLoad' -benchtime 1x -v -timeout 0 ./cmd/certchain

bench-publish:
	@command -v wrk >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }
	$(GO) test -run '^$$' -bench 'BenchmarkBulkPublish' -benchtime 1x -count $(BENCHCOUNT) -timeout 0 ./cmd/certchain
	CERTCHAIN_BULK_MILLION=1 $(GO) test -run '^$$' -bench 'BenchmarkBulkPublish/million' -benchtime 1x -timeout 0 -v ./cmd/certchain

bench-acme:
	$(GO) test -run '^$$' -bench 'BenchmarkACMEIssuance' -benchtime 200x -count $(BENCHCOUNT) ./cmd/certchain

bench-ocsp:
	@command -v wrk >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }
	$(GO) test -run '^$$' -bench 'BenchmarkOCSPLoad' -benchtime 1x -timeout 0 -v ./cmd/certchain

## fuzz: every fuzz target for FUZZTIME each
fuzz:
	@set -e; for pkg in $$($(GO) list $(PKGS)); do \
	  for t in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
	    echo "fuzz $$pkg $$t"; \
	    $(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) $$pkg; \
	  done; \
	done

## lint: gofmt and go vet
lint:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt needed"; exit 1; }
	$(GO) vet $(PKGS)

## verify: lint + go.mod tidy
verify: lint
	$(GO) mod tidy -diff

clean:
	rm -rf bin cluster
