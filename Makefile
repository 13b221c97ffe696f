# patrol — build, test, run.
GO      ?= go
BIN     := bin/patrol
CONFIG  ?= config.toml

.PHONY: build test check fmt-check vet run bench install clean

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

clean:
	rm -rf bin patrol.db patrol.db-wal patrol.db-shm patrol.db.lock
