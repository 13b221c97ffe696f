# patrol — build, test, run.
GO      ?= go
BIN     := bin/patrol
CONFIG  ?= config.toml
# The oldest Go that builds patrol: go.mod's go directive (its dependencies
# need 1.26). check-go-min proves it with that exact toolchain, which the
# go command fetches as a module (golang.org/toolchain).
GO_MIN  := $(shell sed -n 's/^go //p' go.mod)
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X main.version=$(VERSION)

.PHONY: build test chaos check check-go-min fmt-check vet run bench install check-unit clean dist report-demo report-screenshot

build:
	@test -x $(BIN) || echo "building patrol (first build compiles SQLite and the AWS SDK: a few minutes)"
	$(GO) build -ldflags "-X main.version=$(VERSION)" -o $(BIN) ./cmd/patrol

# The whole suite, as CI runs it. Tests that need moto_server start it
# themselves; tests that read ../shared skip when it is absent.
test:
	$(GO) test -race -count=1 ./...

check: fmt-check vet test

# The chaos test at length: real patrol processes killed with SIGKILL at
# seeded moments (aiming at 8 to 15 kills a seed), then run until everything settles;
# prints each seed and the figures (kills, fixed, handed to a person,
# double calls, duplicate tickets). make test runs it with two seeds.
# CHAOS_SEED=N CHAOS_SEEDS=1 replays one printed seed.
CHAOS_SEEDS ?= 50
CHAOS_SEED  ?= 1
chaos:
	$(GO) test -count=1 -v -timeout 60m -run '^TestChaos$$' ./cmd/patrol/ -chaos.seeds=$(CHAOS_SEEDS) -chaos.seed=$(CHAOS_SEED) -chaos.kills=15

# Build every package with the oldest Go that go.mod claims (first run:
# minutes, as it compiles everything with that toolchain; then cached).
check-go-min:
	GOTOOLCHAIN=go$(GO_MIN) $(GO) build ./...
	@echo "go$(GO_MIN) builds patrol"

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

# The one-command trial: local search over the shipped samples, local
# tickets, printed notifications, dry-run remediation.
run: build
	@./$(BIN) once --config $(CONFIG); rc=$$?; echo; ./$(BIN) tickets --config $(CONFIG); exit $$rc

# The report of the trial: make run's state with LOCAL-1 approved by alice
# (as the README's walk-through does), written to patrol-report.html.
report-demo: run
	@./$(BIN) approve --config $(CONFIG) --as alice LOCAL-1 >/dev/null
	@./$(BIN) once --config $(CONFIG) >/dev/null 2>&1
	./$(BIN) report --config $(CONFIG) --out patrol-report.html

# The README's picture of the report: headless Chromium, the page's top.
CHROMIUM ?= /usr/bin/chromium
report-screenshot: report-demo
	@test -x $(CHROMIUM) || { echo "$(CHROMIUM) is missing (apt-get install chromium)"; exit 1; }
	@tmp=$$(mktemp -d); $(CHROMIUM) --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
	  --disable-background-networking --disable-component-update --disable-sync --host-resolver-rules='MAP * ~NOTFOUND' \
	  --user-data-dir=$$tmp --hide-scrollbars --window-size=1280,1640 \
	  --screenshot=$$PWD/poller/report/screenshot.png file://$$PWD/patrol-report.html 2>/dev/null; rc=$$?; rm -rf $$tmp; exit $$rc

# Speed and memory figures: the local engine against jq on >= 200 MB of
# generated CloudTrail, the detect pipeline (search results through
# fingerprinting and the SQLite ledger), the first-seen filter and a
# sequence evaluation over the ledger, what exceptions and silences cost (the
# detect pipeline over 100,000 results with and without 20 of each, 3 runs; and
# the check of one result, timed over many), a quarter's report, CloudTrail read from S3 (the
# moto_server emulator) against the same files on disk, patrol search's time and peak RSS
# over crafted files (deep nesting, a huge array, gzip bombs), and the
# daemon under load (patrol run with 60 and 200 detections a minute against
# a Splunk fake whose searches take 1 s: lag, searches/s, skipped runs, CPU,
# RSS; about 10 minutes, PATROL_BENCH_MINUTES=3 per size by default).
bench:
	bash poller/local/bench.sh
	$(GO) test -run '^$$' -bench . -benchmem -benchtime 1x ./poller/ ./poller/splunk/ ./poller/firstseen/ ./poller/sequence/ ./poller/report/
	$(GO) test -run '^$$' -bench TunedPipeline -benchmem -benchtime 3x ./poller/tuning/
	$(GO) test -run '^$$' -bench TunerPerResult -benchmem ./poller/tuning/
	$(GO) test -run '^$$' -bench . -benchmem -benchtime 3x ./poller/local/s3/
	$(GO) test -run '^$$' -bench SearchCraftedFiles -benchtime 1x ./cmd/patrol/
	$(GO) test -run '^$$' -bench DaemonLoad -benchtime 1x -timeout 30m ./cmd/patrol/

clean:
	rm -rf bin dist patrol.db patrol.db-wal patrol.db-shm patrol.db.lock patrol-report.html

# Release binaries for linux/amd64 and linux/arm64, static (SQLite and the
# C library linked in, pure-Go DNS and user lookups: they run on any Linux
# of that architecture), with the version stamped in (patrol --version),
# and their SHA-256 sums. arm64 is cross-compiled with
# aarch64-linux-gnu-gcc (apt-get install gcc-aarch64-linux-gnu).
CC_amd64  ?= gcc
CC_arm64  ?= aarch64-linux-gnu-gcc
DIST_TAGS := netgo,osusergo,sqlite_omit_load_extension
dist:
	@echo "building patrol $(VERSION) for linux/amd64 and linux/arm64 (each compiles SQLite and the AWS SDK: a few minutes)"
	@mkdir -p dist
	@for arch in amd64 arm64; do \
	  if [ $$arch = amd64 ]; then cc="$(CC_amd64)"; else cc="$(CC_arm64)"; fi; \
	  command -v $$cc >/dev/null || { echo "dist: $$cc is missing (apt-get install gcc-aarch64-linux-gnu)"; exit 1; }; \
	  out=dist/patrol-$(VERSION)-linux-$$arch; \
	  CGO_ENABLED=1 GOOS=linux GOARCH=$$arch CC=$$cc $(GO) build -trimpath -tags $(DIST_TAGS) \
	    -ldflags "$(LDFLAGS) -linkmode external -extldflags -static" -o $$out ./cmd/patrol || exit 1; \
	  echo "$$out"; \
	done
	@cd dist && sha256sum patrol-$(VERSION)-linux-* > SHA256SUMS && cat SHA256SUMS

# Install the binary, the unit, the detection pack and an example config
# (DESTDIR-aware; an existing /etc/patrol/config.toml is never overwritten).
PREFIX  ?= /usr/local
# It installs the binary `make build` made; it builds one only if there is
# none (as root that would compile everything again in root's cache).
install:
	@test -x $(BIN) || $(MAKE) build
	install -D -m 0755 $(BIN) $(DESTDIR)$(PREFIX)/bin/patrol
	install -D -m 0644 cmd/patrol/patrol.service $(DESTDIR)/etc/systemd/system/patrol.service
	install -D -m 0644 cmd/patrol/patrol.sysusers $(DESTDIR)/usr/lib/sysusers.d/patrol.conf
	if [ -z "$(DESTDIR)" ] && command -v systemd-sysusers >/dev/null; then systemd-sysusers /usr/lib/sysusers.d/patrol.conf; fi
	install -d -m 0755 $(DESTDIR)/etc/patrol $(DESTDIR)$(PREFIX)/share/patrol
	install -d -m 0700 $(DESTDIR)/etc/patrol/credentials
	install -d -m 0755 $(DESTDIR)$(PREFIX)/share/patrol/detections
	install -m 0644 detections/*.toml $(DESTDIR)$(PREFIX)/share/patrol/detections/
	cp -r detections/tests detections/lookups detections/samples $(DESTDIR)$(PREFIX)/share/patrol/detections/
	install -D -m 0644 README.md $(DESTDIR)$(PREFIX)/share/doc/patrol/README.md
	install -D -m 0644 SECURITY.md $(DESTDIR)$(PREFIX)/share/doc/patrol/SECURITY.md
	install -m 0644 config.toml $(DESTDIR)$(PREFIX)/share/patrol/config.local.toml
	test -e $(DESTDIR)/etc/patrol/config.toml || install -m 0640 cmd/patrol/config.production.toml $(DESTDIR)/etc/patrol/config.toml
	-chgrp patrol $(DESTDIR)/etc/patrol/config.toml 2>/dev/null

# Verify the unit file and print its systemd-analyze security exposure score.
check-unit: build
	@command -v systemd-analyze >/dev/null || { echo "systemd-analyze is missing (apt-get install systemd)"; exit 1; }
	@tmp=$$(mktemp -d); sed "s#/usr/local/bin/patrol#$$PWD/$(BIN)#" cmd/patrol/patrol.service > $$tmp/patrol.service; \
	 systemd-analyze verify $$tmp/patrol.service && echo "systemd-analyze verify: ok"; \
	 systemd-analyze security --offline=yes $$tmp/patrol.service | tail -1; rm -rf $$tmp
