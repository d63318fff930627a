# knockssh — see README.md. Targets that touch the network lab need root.

GO       ?= go
BIN      ?= bin/knockssh
PREFIX   ?= /usr/local
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo devel)
LDFLAGS  := -s -w -X github.com/knockssh/knockssh/internal/cli.Version=$(VERSION)
# Debian packages the lab tests, the demo and the benchmarks use.
APT_PKGS := iptables iptables-persistent nftables iproute2 openssh-server openssh-client rsync tcpdump git tmux ansible-core netcat-openbsd groff-base man-db bash-completion zsh fish
TESTFLAGS ?=
FUZZTIME ?= 30s

.PHONY: all build test demo bench fuzz lint install clean deps cross man dist

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
# throughput (vs nc) and its peak RSS, connection sharing (vs one command),
# logins under 5% loss (vs independent attempts' theory), and ansible -m
# ping on three knocked servers (vs plain ssh to three open ones). About
# seven minutes.
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

# cross builds the client for the platforms of the release (as make dist
# does: static, -trimpath, so that dist reuses what it compiled) and vets
# the platform files of the others.
CROSS := CGO_ENABLED=0 $(GO) build -trimpath -o /dev/null ./cmd/knockssh
cross:
	GOOS=linux $(CROSS)
	GOOS=darwin $(CROSS)
	GOOS=windows $(CROSS)
	GOOS=linux GOARCH=arm GOARM=6 $(CROSS)
	GOOS=freebsd $(CROSS)
	GOOS=openbsd $(CROSS)
	GOOS=netbsd $(CROSS)
	GOOS=windows GOARCH=arm64 $(GO) vet ./...
	GOOS=android GOARCH=arm64 $(GO) vet ./...

# install puts the binary, the manual pages and the shell completions under
# $(DESTDIR)$(PREFIX).
install: build
	install -D -m 0755 $(BIN) $(DESTDIR)$(PREFIX)/bin/knockssh
	install -D -m 0644 doc/knockssh.1 $(DESTDIR)$(PREFIX)/share/man/man1/knockssh.1
	install -D -m 0644 doc/knock_config.5 $(DESTDIR)$(PREFIX)/share/man/man5/knock_config.5
	install -D -m 0644 completions/knockssh.bash $(DESTDIR)$(PREFIX)/share/bash-completion/completions/knockssh
	install -D -m 0644 completions/_knockssh $(DESTDIR)$(PREFIX)/share/zsh/site-functions/_knockssh
	install -D -m 0644 completions/knockssh.fish $(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d/knockssh.fish

# man regenerates the manual pages from the CLI's tables (a test keeps
# them in sync).
man:
	$(GO) test ./internal/cli -run TestManPages -update

# dist builds the release into dist/: an archive per platform, a .deb and
# an .rpm for linux amd64 and arm64, SHA256SUMS; reproducible from the
# commit (its time stamps every file). About five minutes from a cold cache.
dist:
	$(GO) run ./internal/dist -version $(VERSION) -epoch $${SOURCE_DATE_EPOCH:-$$(git log -1 --format=%ct)} -out dist

clean:
	rm -rf bin dist
