# keyward: "make help" lists the targets.

VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
FUZZTIME ?= 15s

# Every target that runs tests goes through cmd/testenv, which finds or starts
# a PostgreSQL and exports TEST_DATABASE_URL for the whole run.
TESTENV := go run ./cmd/testenv --

.DEFAULT_GOAL := help
.PHONY: help run build test e2e generate css lint bench fuzz soak

help: ## list the targets
	@awk 'BEGIN { FS = ":.*## " } /^[a-z][a-z0-9_-]*:.*## / { printf "  %-10s %s\n", $$1, $$2 }' $(MAKEFILE_LIST)

run: ## run the dashboard and API (SQLite in ./data unless DATABASE_URL is set); it prints the URL once listening
	go run ./cmd/keyward serve

build: ## build a static bin/keyward stamped with the git version
	CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=$(VERSION)" -o bin/keyward ./cmd/keyward

test: ## run every test with -race against a real PostgreSQL (and SQLite)
	$(TESTENV) go test -race -count=1 -timeout 30m ./...

e2e: ## run the browser tests in web/e2e (needs chromium)
	$(TESTENV) go test -race -count=1 -timeout 30m -tags e2e ./web/e2e/...

generate: ## regenerate the templ components (*_templ.go, committed)
	go tool templ generate

css: ## rebuild static/vendor/pico.keyward.min.css from Pico's SCSS (needs npm; versions pinned in static/vendor/pico-build)
	@command -v npm >/dev/null 2>&1 || { echo "make css needs Node.js and npm (static/vendor/pico-build/package-lock.json pins every package)"; exit 1; }
	@tmp="$$(mktemp -d)"; trap 'rm -rf "$$tmp"' EXIT; \
	cp static/vendor/pico-build/package.json static/vendor/pico-build/package-lock.json \
	   static/vendor/pico-build/pico.keyward.scss static/vendor/pico-build/build.mjs "$$tmp"/ && \
	(cd "$$tmp" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error) && \
	node "$$tmp"/build.mjs static/vendor/pico.keyward.min.css && \
	sha256sum static/vendor/pico.keyward.min.css

lint: ## fail on gofmt differences (generated *_templ.go aside), then go vet
	@unformatted="$$(gofmt -l . | grep -v '_templ\.go$$' || true)"; \
	if [ -n "$$unformatted" ]; then echo "gofmt would change:"; echo "$$unformatted"; exit 1; fi
	go vet ./...
	go vet -tags e2e ./web/e2e/...

bench: ## measure the performance targets of DESIGN.md
	$(TESTENV) go run ./cmd/bench

soak: build ## two instances on a throwaway PostgreSQL under load and faults for ~3 minutes (SOAK_DURATION)
	go run ./cmd/soak -bin bin/keyward

fuzz: ## run each fuzz target for FUZZTIME (default 15s)
	$(TESTENV) .ci/fuzz.sh $(FUZZTIME)
