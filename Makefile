# pagerd: the two commands a new user needs are `make run` and `make test`.
GO      ?= go
BIN     := bin/pagerd
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
GOFILES  = $(shell git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './bin/*')

.PHONY: build run test bench lint fmt-check vet fuzz clean

build:
	$(GO) build -ldflags "-X main.version=$(VERSION)" -o $(BIN) ./cmd/pagerd

# Until the daemon lands (`pagerd serve`, issue 3), `make run` validates the
# quickstart config, shows who is on call and what a critical alert would do.
run: build
	$(BIN) check-config configs/quickstart.yaml configs/aivo.yaml configs/aion-r.yaml
	$(BIN) oncall --config configs/quickstart.yaml
	$(BIN) simulate --config configs/quickstart.yaml --for 20m severity=critical alertname=Demo
	@echo
	@echo "pagerd serve (the daemon) arrives with the next issue; see README.md."

test: fmt-check vet
	$(GO) test -race -count=1 ./...

bench:
	$(GO) test -run '^$$' -bench . -benchmem -count=1 ./...

lint: fmt-check vet

fmt-check:
	@out=$$(gofmt -l $(GOFILES)); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

# Longer fuzzing than the seed-corpus run `make test` does.
FUZZTIME ?= 60s
fuzz:
	$(GO) test ./policy/ -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME)
	$(GO) test ./policy/ -run '^$$' -fuzz '^FuzzMatcher$$' -fuzztime $(FUZZTIME)

clean:
	rm -rf bin
