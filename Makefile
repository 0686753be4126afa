# portmortem — GNU make build. Plain and explicit: source lists per folder, automatic header
# dependencies (-MMD -MP), strict warnings, hardening. Objects go to build/<variant>/.
#
#   make            build ./portmortem (runs .ci/setup first to install what is missing)
#   make check      build and run every test: unit + golden + robustness, the same again
#                   under ASan+UBSan, a Valgrind pass, and the lab tests when root
#   make demo       run the main job on the shipped sample incident (pcaps/demo/)
#   make asan       build the sanitizer variant (build/asan/portmortem)
#   make bench      benchmark against the libpcap floor, tcpdump and tshark (docs/PERFORMANCE.md)
#   make fuzz       run the fuzz targets for FUZZ_SECONDS each (default 60)
#   make lab        re-record the lab fixtures under pcaps/lab/ (root)
#   make install    PREFIX=/usr/local DESTDIR= (binary stripped, man page, bash completion,
#                   docs/VERDICTS.md and the output contract in share/doc/portmortem,
#                   the watch service's systemd unit and sysusers.d user)
#   make uninstall  the same PREFIX and DESTDIR
#   make deb        the Debian package (debian/, built by dpkg-buildpackage in a temp copy)
#   make clean

# The version, in this one place: the binary (-DPM_VERSION), `make install`, the man page
# check and the Debian package (`make deb` refuses a debian/changelog that disagrees).
VERSION := 0.1.0

PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
MANDIR ?= $(PREFIX)/share/man
DATADIR ?= $(PREFIX)/share
DOCDIR ?= $(DATADIR)/doc/portmortem
BASHCOMPDIR ?= $(DATADIR)/bash-completion/completions
# the systemd unit of `portmortem watch` and its system user (sysusers.d)
UNITDIR ?= $(PREFIX)/lib/systemd/system
SYSUSERSDIR ?= $(PREFIX)/lib/sysusers.d
DESTDIR ?=
# `make install` strips the installed binary (install -s); the Debian build sets
# INSTALL_STRIP= so that dh_strip keeps the symbols in a separate -dbgsym package.
INSTALL_STRIP ?= -s
CC ?= cc
V ?= 0
SETUP ?= 1

VARIANT ?= release
B := build/$(VARIANT)

WARNINGS := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
	-Wmissing-declarations -Wold-style-definition -Wformat=2 -Wformat-security \
	-Wpointer-arith -Wcast-qual -Wwrite-strings -Wundef -Wsign-compare -Wvla \
	-Wimplicit-fallthrough -Wnull-dereference -Wredundant-decls -Werror \
	-Wno-format-truncation
# -Wno-format-truncation: display strings are cut to fixed, bounded buffers on purpose
# (snprintf is how we bound them); every other format warning stays an error.
HARDENING := -fstack-protector-strong -fstack-clash-protection -fPIE -D_FORTIFY_SOURCE=2
HARDEN_LD := -pie -Wl,-z,relro,-z,now -Wl,-z,noexecstack

ifeq ($(VARIANT),asan)
OPT := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all
SAN_LD := -fsanitize=address,undefined
HARDENING := -fPIE
else ifeq ($(VARIANT),debug)
OPT := -O0 -g
SAN_LD :=
else
OPT := -O2 -g
SAN_LD :=
endif

PKG_CFLAGS := $(shell pkg-config --cflags libpcap openssl zlib liblzma libzstd 2>/dev/null)
PKG_LIBS := $(shell pkg-config --libs libpcap openssl zlib liblzma libzstd 2>/dev/null || \
	echo -lpcap -lssl -lcrypto -lz -llzma -lzstd)
CPPFLAGS += -Iinclude -D_GNU_SOURCE -DPM_BUILD_VARIANT=\"$(VARIANT)\" -DPM_VERSION=\"$(VERSION)\"
CFLAGS := -std=c11 $(OPT) $(WARNINGS) $(HARDENING) $(PKG_CFLAGS) -MMD -MP $(EXTRA_CFLAGS)
LDFLAGS := $(HARDEN_LD) $(SAN_LD) $(EXTRA_LDFLAGS)
LDLIBS := $(PKG_LIBS) -lnet -lresolv -lm

# analyze/: privilege-free core that handles every untrusted byte. Testable without root.
ANALYZE_SRCS := \
	analyze/util.c analyze/vocab.c analyze/verdicts.c analyze/json.c \
	analyze/pkt.c analyze/decode.c analyze/capin.c analyze/instream.c analyze/pcapng.c \
	analyze/tables.c analyze/flow.c analyze/smtp.c analyze/track.c analyze/attempt.c analyze/ttl.c \
	analyze/context.c analyze/scope.c analyze/rules.c analyze/attribute.c analyze/correlate.c analyze/nat.c \
	analyze/walk.c analyze/engine.c analyze/filter.c analyze/report.c analyze/report_json.c \
	analyze/bundle.c analyze/bundle_slice.c analyze/bundle_text.c analyze/bundle_html.c \
	analyze/bundle_manifest.c analyze/bundle_redact.c analyze/bundle_fs.c analyze/bundle_file.c \
	analyze/bundle_dest.c analyze/bundle_mtalog.c \
	analyze/mtalog.c analyze/mtalog_fields.c analyze/mtalog_time.c analyze/mtalog_postfix.c analyze/mtalog_exim.c \
	analyze/mtalog_sendmail.c analyze/lines.c analyze/output.c \
	analyze/opts.c analyze/cliopts.c
# the outputs' sink adapters (include/sink.h), the offline spool (include/spool.h)
# and the offline input loop (engine_files.c)
ANALYZE_SRCS += analyze/sink.c analyze/spool.c analyze/engine_files.c
# always on (issue 18): syslog records, destination state, Prometheus exposition
ANALYZE_SRCS += analyze/syslog_out.c analyze/deststate.c analyze/metrics.c

# capture/: live capture, injection, privileges (its own list in capture/rules.mk).
CAPTURE_SRCS :=
include capture/rules.mk

MAIN_SRC := main.c

LIB_OBJS := $(patsubst %.c,$(B)/%.o,$(ANALYZE_SRCS) $(CAPTURE_SRCS))
MAIN_OBJ := $(B)/main.o
LIB := $(B)/libportmortem.a

# Criterion unit tests: one suite file per module, all linked into one runner.
UNIT_SRCS := \
	tests/unit/test_pkt.c tests/unit/test_mtalog.c tests/unit/test_bundle.c \
	tests/unit/test_priv.c \
	tests/unit/test_probe.c \
	tests/unit/pktbuild.c tests/unit/test_decode.c tests/unit/test_pcapng.c \
	tests/unit/test_capin.c tests/unit/test_flow.c tests/unit/test_tables.c tests/unit/test_track.c \
	tests/unit/test_attempt.c tests/unit/test_smtp.c tests/unit/test_ttl.c \
	tests/unit/test_rules.c tests/unit/test_attribute.c tests/unit/test_correlate.c \
	tests/unit/test_nat.c tests/unit/test_json.c tests/unit/test_util.c tests/unit/test_engine.c \
	tests/unit/test_context.c tests/unit/test_lines.c tests/unit/test_scope.c \
	tests/unit/test_probe_verdict.c tests/unit/test_output.c tests/unit/test_walk.c \
	tests/unit/test_opts.c tests/unit/test_instream.c tests/unit/test_verdicts.c \
	tests/unit/test_watch.c
UNIT_OBJS := $(patsubst %.c,$(B)/%.o,$(UNIT_SRCS))
UNIT_BIN := $(B)/tests/unit-tests

ifeq ($(V),0)
Q := @
else
Q :=
endif

.PHONY: all unit setup setup-test asan-binary demo install uninstall check check-unit check-golden check-robust check-asan check-valgrind \
	check-lab demo asan install uninstall clean bench fuzz lab version deb

all: setup portmortem

# Install missing Debian packages (a no-op when everything is there). SETUP=0 skips it.
setup:
ifeq ($(SETUP),1)
	$(Q)sh .ci/setup --demo
endif

# Copy then rename: a running ./portmortem (a long benchmark) must not block the update.
portmortem: $(B)/portmortem
	$(Q)cp $< $@.tmp && mv -f $@.tmp $@

$(B)/portmortem: $(MAIN_OBJ) $(LIB)
	@echo "  LD      $@"
	$(Q)$(CC) $(CFLAGS) -o $@ $^ $(LDFLAGS) $(LDLIBS)

$(LIB): $(LIB_OBJS)
	@echo "  AR      $@"
	$(Q)rm -f $@ && ar rcs $@ $^

$(B)/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

$(UNIT_BIN): $(UNIT_OBJS) $(LIB)
	@echo "  LD      $@"
	$(Q)$(CC) $(CFLAGS) -o $@ $^ $(LDFLAGS) $(LDLIBS) -lcriterion

unit: $(UNIT_BIN)

# Unit tests only (quick inner loop): make check-unit [VARIANT=asan]
# Criterion spawns one process per test; under heavy load its spawner has been seen to
# fail with "Could not spawn test instance" (a harness error, not a test failure): run once
# more in that case only.
check-unit: $(UNIT_BIN)
	$(Q)$(UNIT_BIN) --jobs 2 >$(B)/unit.log 2>&1 || \
	{ if grep -q "Could not spawn test instance" $(B)/unit.log; then \
	    echo "check-unit: Criterion could not spawn a test (harness error); running again"; \
	    $(UNIT_BIN) --jobs 2; else cat $(B)/unit.log; exit 1; fi; }
	$(Q)tail -1 $(B)/unit.log

# ---- make check ---------------------------------------------------------------------
# Each test area owns a rules.mk that appends its targets to:
#   CHECK_TARGETS      run in `make check` for the release build
#   CHECK_SAN_TARGETS  run again on the ASan+UBSan build (VARIANT=asan)
#   CHECK_ROOT_TARGETS run last, only as root (lab tests; they skip with a reason otherwise)
CHECK_TARGETS := check-unit
CHECK_SAN_TARGETS := check-unit
CHECK_ROOT_TARGETS :=

-include tests/golden/rules.mk
-include tests/limits/rules.mk
-include tests/bench/rules.mk
-include tests/fuzz/rules.mk
-include tests/lab/rules.mk
-include tests/bundle/rules.mk
-include tests/output/rules.mk
-include tests/input/rules.mk
-include tests/live/rules.mk
-include tests/probe/rules.mk
-include tests/hostile/rules.mk
-include tests/package/rules.mk
-include tests/schema/rules.mk
-include tests/layers/rules.mk
-include tests/watch/rules.mk

# tests/run-check.sh runs the offline tiers (release, then ASan+UBSan) and the root tier side by
# side, each target timed (build/check-times.txt, printed slowest first); why in that script.
# CHECK_SERIAL=1 runs them one after the other.
check: setup-test portmortem
	$(Q)CHECK_RELEASE="$(CHECK_TARGETS)" CHECK_SAN="$(CHECK_SAN_TARGETS)" \
		CHECK_ROOT="$(CHECK_ROOT_TARGETS)" MAKE="$(MAKE)" bash tests/run-check.sh

setup-test:
ifeq ($(SETUP),1)
	$(Q)sh .ci/setup --test
endif

# The sanitizer build of the tool itself, for tests that run the binary.
asan-binary: $(B)/portmortem

asan:
	$(Q)$(MAKE) --no-print-directory VARIANT=asan asan-binary

-include $(shell find build -name '*.d' 2>/dev/null)

# ---- the sample incident -------------------------------------------------------------
# Recorded in the lab (pcaps/lab/transit-forged-rst/README.md): Postfix logs "Connection
# refused" for both MX hosts; the packets show the RSTs come from one hop before them.
DEMO_DIR := pcaps/lab/transit-forged-rst
demo: setup portmortem
	@echo "+ ./portmortem analyze --format text --ports 25,587 --mta-log $(DEMO_DIR)/maillog sender=$(DEMO_DIR)/sender.pcap"
	@./portmortem analyze --format text --ports 25,587 --mta-log $(DEMO_DIR)/maillog \
		sender=$(DEMO_DIR)/sender.pcap; rc=$$?; \
		if [ $$rc -gt 1 ]; then exit $$rc; fi; \
		echo "(exit status $$rc: 1 means failures were found, as expected for this incident)"

# ---- install ---------------------------------------------------------------------------
# The binary (stripped: INSTALL_STRIP), the man page, the bash completion and the reference a
# user needs to read a report: the verdicts and the output contract (docs/OUTPUT.md and the
# JSON schema in docs/schema/, when present). PREFIX and DESTDIR as usual; `make deb` installs
# through this same target (debian/rules).
DOC_FILES := README.md docs/VERDICTS.md $(wildcard docs/OUTPUT.md) docs/WATCH.md \
	docs/examples/portmortem-alerts.yml
SCHEMA_FILES := $(wildcard docs/schema/*.json)

install: portmortem
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(BASHCOMPDIR) \
		$(DESTDIR)$(DOCDIR)
	install $(INSTALL_STRIP) -m 0755 portmortem $(DESTDIR)$(BINDIR)/portmortem
	install -m 0644 docs/portmortem.1 $(DESTDIR)$(MANDIR)/man1/portmortem.1
	install -m 0644 docs/portmortem.bash-completion $(DESTDIR)$(BASHCOMPDIR)/portmortem
	install -d $(DESTDIR)$(UNITDIR) $(DESTDIR)$(SYSUSERSDIR)
	sed 's|/usr/bin/portmortem|$(BINDIR)/portmortem|' debian/portmortem-watch.service \
		>$(DESTDIR)$(UNITDIR)/portmortem-watch.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/portmortem-watch.service
	install -m 0644 debian/portmortem.sysusers $(DESTDIR)$(SYSUSERSDIR)/portmortem.conf
	install -m 0644 $(DOC_FILES) $(DESTDIR)$(DOCDIR)/
	$(if $(SCHEMA_FILES),install -d $(DESTDIR)$(DOCDIR)/schema)
	$(if $(SCHEMA_FILES),install -m 0644 $(SCHEMA_FILES) $(DESTDIR)$(DOCDIR)/schema/)

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/portmortem $(DESTDIR)$(MANDIR)/man1/portmortem.1 \
		$(DESTDIR)$(BASHCOMPDIR)/portmortem $(DESTDIR)$(UNITDIR)/portmortem-watch.service \
		$(DESTDIR)$(SYSUSERSDIR)/portmortem.conf
	rm -f $(addprefix $(DESTDIR)$(DOCDIR)/,$(notdir $(DOC_FILES)))
	rm -rf $(DESTDIR)$(DOCDIR)/schema
	-rmdir $(DESTDIR)$(DOCDIR) 2>/dev/null

# The version alone (debian/rules compares it with debian/changelog).
version:
	@echo $(VERSION)

# ---- the Debian package ---------------------------------------------------------------
# Built by dpkg-buildpackage in a temp copy of the sources, so the tree stays as it is (no
# debian/portmortem/, no debian/files); the .deb, .changes and .buildinfo land in DEB_OUT.
# debian/ is top-level because dpkg-buildpackage requires it there (docs/DEPENDENCIES.md).
DEB_OUT ?= build/deb
DEB_SRC := Makefile main.c include analyze capture docs debian README.md

deb:
	$(Q)command -v dpkg-buildpackage >/dev/null && command -v dh >/dev/null || \
	{ echo "make deb: dpkg-buildpackage or dh is missing: sh .ci/setup --test installs them" \
	  "(dpkg-dev, debhelper)" >&2; exit 1; }
	$(Q)rm -rf $(DEB_OUT) && mkdir -p $(DEB_OUT)
	$(Q)tmp=$$(mktemp -d "$${TMPDIR:-/tmp}/portmortem-deb.XXXXXX") && \
	trap 'rm -rf "$$tmp"' EXIT && \
	mkdir "$$tmp/portmortem-$(VERSION)" && \
	cp -a $(DEB_SRC) "$$tmp/portmortem-$(VERSION)/" && \
	rm -rf "$$tmp/portmortem-$(VERSION)/build" && \
	( cd "$$tmp/portmortem-$(VERSION)" && \
	  DEB_BUILD_OPTIONS="parallel=$${DEB_JOBS:-2} $${DEB_BUILD_OPTIONS:-}" \
	  dpkg-buildpackage -b -us -uc >../build.log 2>&1 ) || \
	{ tail -40 "$$tmp/build.log" >&2; echo "make deb: dpkg-buildpackage failed (the last lines of its log are above)" >&2; exit 1; }; \
	cp "$$tmp"/*.deb "$$tmp"/*.changes "$$tmp"/*.buildinfo $(DEB_OUT)/ && \
	cp "$$tmp/build.log" $(DEB_OUT)/ && \
	ls $(DEB_OUT)/*.deb

clean:
	rm -rf build portmortem tests/out
