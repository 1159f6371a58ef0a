# previewd — build, demo, test and benchmark.
#
#   make demo    build everything and play a pull request's life on the example module
#   make test    everything CI runs
#   make bench   benchmarks

SHELL := /bin/bash
GO ?= go
TERRAFORM_VERSION := v1.5.7
TOFU_VERSION := v1.10.10
TIME_PROVIDER_VERSION := 0.14.2
PLATFORM := $(shell $(GO) env GOOS)_$(shell $(GO) env GOARCH)
PROVIDER_MIRROR := $(CURDIR)/.cache/providers
TIME_PROVIDER := $(PROVIDER_MIRROR)/registry.terraform.io/hashicorp/time/$(TIME_PROVIDER_VERSION)/$(PLATFORM)/terraform-provider-time_v$(TIME_PROVIDER_VERSION)
OCTOKIT_OPENAPI_VERSION := 23.0.2
BIN := $(CURDIR)/bin
NPM_PREFIX := $(CURDIR)/.cache/npm
OPENAPI_SPEC := $(NPM_PREFIX)/node_modules/@octokit/openapi/generated/api.github.com.json
# A count, not a duration: with a duration, Go 1.26's fuzz coordinator can
# report "context deadline exceeded" as a failure when the time runs out
# under load (go.dev/issue/75804, fixed in Go 1.27). A count has no deadline.
FUZZTIME ?= 400000x

export PREVIEWD_TERRAFORM_BIN ?= $(BIN)/terraform
export PREVIEWD_TOFU_BIN ?= $(BIN)/tofu
export PREVIEWD_TEST_PROVIDER_MIRROR ?= $(PROVIDER_MIRROR)
export PREVIEWD_OPENAPI_SPEC ?= $(OPENAPI_SPEC)
export PREVIEWD_HELM_BIN ?= $(BIN)/helm

.PHONY: all build demo test vet check-tracked fuzz bench deps terraform tofu providers postgres chromium helm snapshot release clean

all: build

# Terraform is built from the Go module proxy, never downloaded as a binary.
# The result is cached in ./bin; delete it to rebuild.
$(BIN)/terraform:
	@echo "building terraform $(TERRAFORM_VERSION) from source into ./bin (a few minutes, once)"
	GOBIN=$(BIN) $(GO) install github.com/hashicorp/terraform@$(TERRAFORM_VERSION)

terraform: $(BIN)/terraform

# OpenTofu too, for the tests that run on both engines. `go install` refuses
# it (its go.mod has replace directives), so it is built inside its module
# as downloaded from the proxy, as a release is built (version.dev=no).
$(BIN)/tofu:
	@echo "building OpenTofu $(TOFU_VERSION) from source into ./bin (a few minutes, once)"
	cd / && $(GO) mod download github.com/opentofu/opentofu@$(TOFU_VERSION)
	cd "$$($(GO) env GOMODCACHE)/github.com/opentofu/opentofu@$(TOFU_VERSION)" && \
	  GOFLAGS=-mod=mod $(GO) build -ldflags "-X github.com/opentofu/opentofu/version.dev=no" -o $(BIN)/tofu ./cmd/tofu

tofu: $(BIN)/tofu

# A real provider for the tests, built from the Go module proxy into a
# filesystem mirror laid out as Terraform reads it, and again under
# OpenTofu's registry name, which OpenTofu gives hashicorp/time.
$(TIME_PROVIDER):
	@echo "building terraform-provider-time $(TIME_PROVIDER_VERSION) into $(PROVIDER_MIRROR)"
	mkdir -p $(dir $@) $(subst registry.terraform.io,registry.opentofu.org,$(dir $@))
	cd / && GOBIN=$(dir $@) $(GO) install github.com/hashicorp/terraform-provider-time@v$(TIME_PROVIDER_VERSION)
	mv $(dir $@)terraform-provider-time $@
	ln -f $@ $(subst registry.terraform.io,registry.opentofu.org,$@)

# previewd/pg, the tests' PostgreSQL provider (testdata/terraform-provider-pg):
# objects outside Terraform, so a change by hand is real drift.
providers: $(TIME_PROVIDER)
	./scripts/pg-provider.sh $(PROVIDER_MIRROR)

build: $(BIN)/terraform
	$(GO) build -o $(BIN)/previewd ./cmd/previewd
	$(GO) build -o $(BIN)/preview-web ./cmd/preview-web

# GitHub's official OpenAPI description, to check every request the client makes.
# npm comes from Debian's packages when the machine has none.
$(OPENAPI_SPEC):
	@command -v npm >/dev/null || { echo "installing npm from Debian's packages"; \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq --no-install-recommends npm; \
	  else sudo apt-get update -qq && sudo apt-get install -y -qq --no-install-recommends npm; fi; }
	mkdir -p $(NPM_PREFIX)
	npm install --no-audit --no-fund --silent --prefix $(NPM_PREFIX) @octokit/openapi@$(OCTOKIT_OPENAPI_VERSION)

deps: $(OPENAPI_SPEC) $(BIN)/terraform $(BIN)/tofu providers

# PostgreSQL for the remote-state tests: the machine's server on
# 127.0.0.1:5432, or one started from Debian's packages with a data
# directory under ./.cache/postgres when none answers.
postgres:
	./scripts/postgres.sh

# Debian's Chromium, for the dashboard's browser tests, installed when
# missing.
chromium:
	./scripts/chromium.sh

# Helm, for the chart's test, built from the Go module proxy into ./bin
# (once).
helm:
	./scripts/helm.sh

# A release into ./dist: previewd and preview-web for linux/darwin x
# amd64/arm64, the linux/amd64+arm64 image as an OCI layout (no Docker
# daemon), an SBOM and checksums. Nothing is published. Terraform's cross
# builds and the image's Debian userland are cached in ./.cache/release
# (about 8 minutes once, then about 25 seconds).
snapshot:
	./scripts/release-deps.sh
	$(GO) run ./scripts/release --snapshot --terraform-version $(TERRAFORM_VERSION)

# make release VERSION=v1.2.3: the same for a tag of HEAD (CI does this on
# a pushed tag, .github/workflows/release.yml).
release:
	@test -n "$(VERSION)" || { echo "usage: make release VERSION=vX.Y.Z"; exit 1; }
	./scripts/release-deps.sh
	$(GO) run ./scripts/release --version $(VERSION) --terraform-version $(TERRAFORM_VERSION)

demo: build
	./scripts/demo.sh

vet:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$unformatted" ]; then echo "gofmt needed: $$unformatted"; exit 1; fi
	$(GO) vet ./...
	cd testdata/terraform-provider-pg && $(GO) vet ./...

# No built binary or file over 1 MB may be tracked; build output goes to ./bin.
check-tracked:
	./scripts/check-tracked.sh

fuzz:
	$(GO) test -run='^$$' -fuzz='^FuzzParse$$' -fuzztime=$(FUZZTIME) ./webhooks/
	$(GO) test -run='^$$' -fuzz='^FuzzVerifySignature$$' -fuzztime=$(FUZZTIME) ./webhooks/
	$(GO) test -run='^$$' -fuzz='^FuzzEnvironmentName$$' -fuzztime=$(FUZZTIME) .

test: check-tracked deps build vet postgres chromium helm snapshot
	$(GO) test -race -count=1 -timeout 20m ./...
	$(MAKE) fuzz

# Scenario benchmarks run once each (-benchtime=1x): every iteration is a
# whole scenario with its own same-process baseline.
# Each figure is also appended to $(BENCH_FIGURES) (internal/benchtest);
# the table at the end is made from it.
BENCH_FIGURES := $(CURDIR)/.cache/bench/figures.jsonl
bench: export PREVIEWD_BENCH_FIGURES := $(BENCH_FIGURES)
bench: build deps postgres
	rm -f $(BENCH_FIGURES)
	$(GO) test -run='^$$' -bench=. -benchtime=1x -timeout 60m ./cmd/previewd/
	$(GO) test -run='^$$' -bench=. -benchtime=1x ./provisioner/
	$(GO) test -run='^$$' -bench=. -benchtime=20x ./server/
	$(GO) test -run='^$$' -bench=. -benchmem ./webhooks/
	$(GO) run ./scripts/benchsummary $(BENCH_FIGURES)

clean:
	rm -rf $(BIN)/previewd $(BIN)/preview-web .previewd dist
