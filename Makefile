# patrol — build, test, run.
GO      ?= go
BIN     := bin/patrol
CONFIG  ?= config.toml

.PHONY: build test check fmt-check vet run bench install check-unit clean report-demo report-screenshot

build:
	$(GO) build -o $(BIN) ./cmd/patrol

# The whole suite, as CI runs it. Tests that need moto_server start it
# themselves; tests that read ../shared skip when it is absent.
test:
	$(GO) test -race -count=1 ./...

check: fmt-check vet test

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
# generated CloudTrail, and the detect pipeline (search results through
# fingerprinting and the SQLite ledger).
bench:
	bash poller/local/bench.sh
	$(GO) test -run '^$$' -bench . -benchmem -benchtime 1x ./poller/ ./poller/splunk/ ./poller/report/

clean:
	rm -rf bin patrol.db patrol.db-wal patrol.db-shm patrol.db.lock patrol-report.html

# Install the binary, the unit, the detection pack and an example config
# (DESTDIR-aware; an existing /etc/patrol/config.toml is never overwritten).
PREFIX  ?= /usr/local
install: build
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
	install -m 0644 config.toml $(DESTDIR)$(PREFIX)/share/patrol/config.local.toml
	test -e $(DESTDIR)/etc/patrol/config.toml || install -m 0640 cmd/patrol/config.production.toml $(DESTDIR)/etc/patrol/config.toml
	-chgrp patrol $(DESTDIR)/etc/patrol/config.toml 2>/dev/null

# Verify the unit file and print its systemd-analyze security exposure score.
check-unit: build
	@command -v systemd-analyze >/dev/null || { echo "systemd-analyze is missing (apt-get install systemd)"; exit 1; }
	@tmp=$$(mktemp -d); sed "s#/usr/local/bin/patrol#$$PWD/$(BIN)#" cmd/patrol/patrol.service > $$tmp/patrol.service; \
	 systemd-analyze verify $$tmp/patrol.service && echo "systemd-analyze verify: ok"; \
	 systemd-analyze security --offline=yes $$tmp/patrol.service | tail -1; rm -rf $$tmp
