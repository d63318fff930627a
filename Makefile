# knockssh — see README.md. Targets that touch the network lab need root.

GO       ?= go
BIN      ?= bin/knockssh
PREFIX   ?= /usr/local
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo devel)
LDFLAGS  := -s -w -X github.com/knockssh/knockssh/internal/cli.Version=$(VERSION)
# Debian packages the lab tests, the demo and the benchmarks use.
APT_PKGS := iptables iproute2 openssh-server openssh-client rsync tcpdump git tmux netcat-openbsd
TESTFLAGS ?=
FUZZTIME ?= 30s

.PHONY: all build test demo bench fuzz lint install clean deps cross

all: build

build:
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/knockssh

# deps installs the Debian packages the lab needs, when any is missing.
deps:
	@missing=""; for p in $(APT_PKGS); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'ok installed' || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

test: deps
	$(GO) vet ./...
	$(GO) test -count=1 -parallel 16 $(TESTFLAGS) ./...

# demo builds a firewall and an sshd in network namespaces, knocks from a
# client namespace with the -v timeline, logs in, and tears everything down.
demo: deps
	$(GO) test -count=1 -run '^TestDemo$$' -v ./cmd/knockssh

# bench measures, in the lab and against baselines measured in the same run:
# burst release error and time to open (vs a naive time.Sleep schedule), the
# time to "knockssh host true" (vs 3W + plain ssh), the --proxy relay's
# throughput (vs nc) and its peak RSS. About three minutes.
bench: deps
	$(GO) test -run '^$$' -bench . -benchtime 1x ./knocker ./cmd/knockssh

# fuzz runs every Fuzz target of every package for FUZZTIME each.
fuzz:
	@set -e; for pkg in $$($(GO) list ./...); do \
		for t in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
			echo "== $$pkg $$t"; $(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) $$pkg; \
		done; \
	done

lint:
	@test -z "$$(gofmt -l .)" || { gofmt -l .; echo 'gofmt: the files above need formatting'; exit 1; }
	$(GO) vet ./...
	GOOS=darwin $(GO) vet ./...
	GOOS=windows $(GO) vet ./...

cross:
	GOOS=linux $(GO) build -o /dev/null ./cmd/knockssh
	GOOS=darwin $(GO) build -o /dev/null ./cmd/knockssh
	GOOS=windows $(GO) build -o /dev/null ./cmd/knockssh

install: build
	install -D -m 0755 $(BIN) $(DESTDIR)$(PREFIX)/bin/knockssh

clean:
	rm -rf bin
