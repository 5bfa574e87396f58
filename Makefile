# pagerd: the two commands a new user needs are `make run` and `make test`.
GO      ?= go
BIN     := bin/pagerd
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT  ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
DIST    ?= dist
GOFILES  = $(shell git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './bin/*')

.PHONY: build install run test test-deps bench load soak lint fmt-check vet fuzz clean release image deploy-check screenshots

build:
	$(GO) build -ldflags "-X main.version=$(VERSION) -X main.commit=$(COMMIT)" -o $(BIN) ./cmd/pagerd

# pagerd on your PATH, as $(PREFIX)/bin/pagerd: make install PREFIX=~/.local
# needs no root. DESTDIR is prepended, for packaging. It installs what
# `make build` made, building again only when a source is newer: `sudo make
# install` runs with sudo's secure_path, where Go installed from go.dev
# (/usr/local/go/bin) is not. It says when $(PREFIX)/bin is not on the PATH
# (~/.local/bin is not, on a fresh machine, until the next login).
PREFIX  ?= /usr/local
SOURCES  = $(shell find go.mod go.sum cmd gateway importer internal notify policy report -type f 2>/dev/null)
install: $(BIN)
	install -d $(DESTDIR)$(PREFIX)/bin
	install -m 0755 $(BIN) $(DESTDIR)$(PREFIX)/bin/pagerd
	@[ -n "$(DESTDIR)" ] || case ":$$PATH:" in *":$(PREFIX)/bin:"*) ;; *) \
		echo "$(PREFIX)/bin is not on your PATH, so the shell will not find pagerd: export PATH=\"$(PREFIX)/bin:\$$PATH\" (and in ~/.profile to keep it)";; esac

$(BIN): $(SOURCES)
	$(MAKE) --no-print-directory build

# The daemon on the quickstart config, on loopback only, with the embedded
# store in ./data. Set REDIS_URL=redis://127.0.0.1:6379/0 to keep incidents
# in Redis instead, LISTEN=:8080 to listen on every interface. On another
# port, change server.public_url in the config too: ack links are made from it.
LISTEN   ?= 127.0.0.1:8080
DATA_DIR ?= data
run: build
	$(BIN) serve --config configs/quickstart.yaml --listen $(LISTEN) --data-dir $(DATA_DIR)$(if $(REDIS_URL), --redis-url $(REDIS_URL))

# The tests run a real redis-server and Debian's Alertmanager; test-deps
# installs them when missing (as root) or says how.
test: test-deps fmt-check vet
	$(GO) test -race -count=1 -timeout 20m ./...
	$(MAKE) deploy-check

test-deps:
	@scripts/test-deps.sh

# The web console's pages at a phone's width and a desktop's, taken by the
# browser test in headless Chromium, into docs/screenshots (README shows them).
screenshots: test-deps
	mkdir -p docs/screenshots
	PAGERD_SCREENSHOTS=$(CURDIR)/docs/screenshots $(GO) test -count=1 -run '^TestConsoleInBrowser$$' ./gateway/

bench: test-deps
	$(GO) test -run '^$$' -bench . -benchmem -count=1 ./...

# Load runs on the real binary as shipped (minutes; figures in
# docs/BENCHMARKS.md), after the raw Redis baseline of the same run
# (redis-benchmark calling the ingest script), which the figures are
# compared with. LOAD picks the runs, e.g. LOAD=TestLoadStormFlood.
LOAD ?= ^TestLoad
load: test-deps
	$(GO) test -run '^$$' -bench 'RedisBenchmarkTriggerScript' -benchtime 3x -count=1 ./gateway/store/redisstore/
	$(GO) test -tags load -run '$(LOAD)' -v -count=1 -timeout 30m ./cmd/pagerd/

# The fault soak (minutes, random; not part of `make test`): three replicas
# of the real binary on one Redis (AOF, appendfsync always), Alertmanager
# alerts, acknowledgements and resolves, and at random replicas killed -9,
# Redis stopped (SIGSTOP) and Redis killed and restarted. It fails on a
# missed page and on a duplicate no fault explains (docs/RELIABILITY.md).
# PAGERD_SOAK_DURATION is per mode (default 2m), PAGERD_SOAK_MODE plain
# (storm bundling off), storm, or both (the default), or groups
# (Alertmanager groups with max_alerts and flapping), and PAGERD_SOAK_SEED
# replays the schedules of a run (it prints its seed); PAGERD_SOAK_RATE,
# PAGERD_SOAK_REPLICAS and PAGERD_SOAK_BREAKER (breaker failures, 0: off);
# in groups mode PAGERD_SOAK_KEY=fingerprint (incident_key: fingerprint)
# and PAGERD_SOAK_AM_DOWN=1 (Alertmanager's API down at times).
SOAK_TIMEOUT ?= 60m
soak: test-deps
	$(GO) test -tags soak -run '^TestSoak$$' -v -count=1 -timeout $(SOAK_TIMEOUT) ./cmd/pagerd/

lint: fmt-check vet

fmt-check:
	@out=$$(gofmt -l $(GOFILES)); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

# Longer fuzzing than the seed-corpus run `make test` does.
FUZZTIME ?= 60s
fuzz:
	$(GO) test ./policy/ -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 2s
	$(GO) test ./policy/ -run '^$$' -fuzz '^FuzzMatcher$$' -fuzztime $(FUZZTIME)
	$(GO) test ./gateway/ingest/ -run '^$$' -fuzz '^FuzzDecodeAlertmanager$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 5s
	$(GO) test ./gateway/ingest/ -run '^$$' -fuzz '^FuzzDecodeEvent$$' -fuzztime $(FUZZTIME)
	$(GO) test ./gateway/ingest/ -run '^$$' -fuzz '^FuzzDecodeOpsgenieAlert$$' -fuzztime $(FUZZTIME)
	$(GO) test ./importer/ -run '^$$' -fuzz '^FuzzImport$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 2s

# Release archives (static binaries for linux and darwin, amd64 and arm64)
# and SHA256SUMS in $(DIST). Versions are semver: tag vX.Y.Z, then
# `make release`; VERSION=X.Y.Z overrides.
release:
	GO=$(GO) scripts/release.sh $(patsubst v%,%,$(VERSION)) $(COMMIT) $(DIST)

# The container image, built with no container engine and no base image
# download: an OCI layout for linux/amd64 and linux/arm64, and a tarball per
# architecture for `docker load` / `podman load`, in $(DIST).
image:
	GO=$(GO) PLATFORMS="linux/amd64 linux/arm64" BINARIES_ONLY=1 scripts/release.sh $(patsubst v%,%,$(VERSION)) $(COMMIT) $(DIST)
	cd deploy && SOURCE_DATE_EPOCH=$$(git log -1 --format=%ct) $(GO) run ./cmd/pagerd-image -version $(patsubst v%,%,$(VERSION)) -commit $(COMMIT) -dist $(abspath $(DIST))

# The deploy/ checks, in their own Go module (Helm, Kubernetes, kustomize
# and image libraries stay out of the daemon's go.mod): the chart rendered
# with several value sets and every object decoded strictly into Kubernetes
# types, the kustomize overlays, the compose file, the systemd unit, the
# Prometheus rules, `make release` and `make image`.
deploy-check: test-deps
	cd deploy && $(GO) vet ./... && $(GO) test -count=1 -timeout 25m ./...

clean:
	rm -rf bin data $(DIST)
