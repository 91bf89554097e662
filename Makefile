# lsyncd-ng: build, test, install.
#   make              build ./lsyncd-ng
#   make check        every test (C units, Lua specs, end to end); ends "N passed, N failed"
#   make asan         build ./lsyncd-ng with AddressSanitizer + UBSan
#   make check-asan   the same suite against that build
#   make demo         a built-in demo: one local and one ssh slave
#   make bench        lsyncd-ng vs lsyncd benchmark (< 60 min); make bench-quick (< 10 min)
#   make install PREFIX=/usr/local SYSCONFDIR=/etc DESTDIR=
#   make deb          lsyncd-ng_VERSION_ARCH.deb here, with dpkg-buildpackage (debian/)

VERSION   := 0.1.0
PREFIX    ?= /usr/local
BINDIR    ?= $(PREFIX)/bin
MANDIR    ?= $(PREFIX)/share/man
SYSCONFDIR ?= /etc
UNITDIR   ?= $(PREFIX)/lib/systemd/system
DOCDIR    ?= $(PREFIX)/share/doc/lsyncd-ng
COMPLETIONDIR ?= $(PREFIX)/share/bash-completion/completions
LOGDIR    ?= /var/log/lsyncd-ng
STATEDIR  ?= /var/lib/lsyncd-ng
CC        ?= cc
LUAJIT    ?= luajit
BUILD     ?= build
BIN       ?= lsyncd-ng

LUA_CFLAGS := $(shell pkg-config --cflags luajit 2>/dev/null || echo -I/usr/include/luajit-2.1)
LUA_LIBS   := $(shell pkg-config --libs luajit 2>/dev/null || echo -lluajit-5.1)

CFLAGS   ?= -O2 -g
ALL_CFLAGS = $(CPPFLAGS) $(CFLAGS) -std=gnu11 -Wall -Wextra -Wno-unused-parameter $(LUA_CFLAGS) -Iengine \
            -I$(BUILD) -DLNG_VERSION='"$(VERSION)"'
LDLIBS   += $(LUA_LIBS) -linotifytools -llmdb -lm -ldl -lpthread

ENGINE_SRC := $(sort $(wildcard engine/*.c))
ENGINE_OBJ := $(patsubst engine/%.c,$(BUILD)/%.o,$(ENGINE_SRC))
LUA_SRC    := $(sort $(wildcard lua/*.lua))
LUA_BC     := $(patsubst lua/%.lua,$(BUILD)/lua/%.h,$(LUA_SRC))

all: $(BIN)

$(BIN): $(ENGINE_OBJ) $(BUILD)/luabundle.o
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/%.o: engine/%.c engine/*.h | $(BUILD)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

# Runtime Lua modules are compiled to LuaJIT bytecode (debug info kept, so
# errors name file and line) and linked into the binary.
$(BUILD)/lua/%.h: lua/%.lua | $(BUILD)
	@mkdir -p $(BUILD)/lua
	$(LUAJIT) -bg -n $* -t h $< $@

$(BUILD)/luabundle.c: $(LUA_BC) scripts/gen-luabundle
	sh scripts/gen-luabundle $(BUILD) $(LUA_SRC) > $@

$(BUILD)/luabundle.o: $(BUILD)/luabundle.c
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

# The first build on a fresh machine installs the Debian packages it needs
# (scripts/install-deps is idempotent and quick once they are there);
# LNG_NO_INSTALL_DEPS=1 (the Debian build) skips that.
$(BUILD):
	@[ -n "$$LNG_NO_INSTALL_DEPS" ] || sh scripts/install-deps
	@mkdir -p $(BUILD)

# C unit tests: every spec/c/*_test.c is linked with the engine objects (minus main).
CTEST_SRC := $(sort $(wildcard spec/c/*_test.c))
CTEST_BIN := $(patsubst spec/c/%.c,$(BUILD)/tests/%,$(CTEST_SRC))
ENGINE_LIB_OBJ := $(filter-out $(BUILD)/main.o,$(ENGINE_OBJ))

$(BUILD)/tests/%: spec/c/%.c $(ENGINE_LIB_OBJ) $(BUILD)/luabundle.o spec/c/tap.h
	@mkdir -p $(BUILD)/tests
	$(CC) $(ALL_CFLAGS) -Ispec/c -o $@ $< $(ENGINE_LIB_OBJ) $(BUILD)/luabundle.o $(LDLIBS)

ctests: $(CTEST_BIN)

check: $(BIN) ctests
	@LNG_BIN=$(abspath $(BIN)) LNG_CTESTS="$(CTEST_BIN)" LNG_BUILD=$(BUILD) bash spec/run

asan:
	$(MAKE) BUILD=build-asan BIN=lsyncd-ng-asan \
	  CFLAGS="-O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined" \
	  LDFLAGS="-fsanitize=address,undefined"

check-asan:
	$(MAKE) BUILD=build-asan BIN=lsyncd-ng-asan \
	  CFLAGS="-O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined" \
	  LDFLAGS="-fsanitize=address,undefined" check

demo: $(BIN)
	bash scripts/demo

# Side by side with Debian's lsyncd (needs root; see bench/run and BENCHMARKS.md).
bench: $(BIN)
	bench/run

bench-quick: $(BIN)
	bench/run --quick

# Units and the init script name the binary and /etc as installed.
SUBST = sed -e 's|@BINDIR@|$(BINDIR)|g' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g'
INSTALLED_SCRIPTS := $(BUILD)/lsyncd-ng.service $(BUILD)/lsyncd-ng@.service $(BUILD)/lsyncd-ng.init

$(BUILD)/lsyncd-ng.service $(BUILD)/lsyncd-ng@.service $(BUILD)/lsyncd-ng.init: $(BUILD)/%: configs/% FORCE | $(BUILD)
	$(SUBST) $< > $@

# Config files in /etc that an admin may have edited are never overwritten
# (the .deb marks them conffiles instead); the example goes into /etc/lsyncd-ng
# only while no config is there.
install: $(BIN) $(INSTALLED_SCRIPTS)
	install -D -m 0755 $(BIN) $(DESTDIR)$(BINDIR)/lsyncd-ng
	install -D -m 0644 doc/lsyncd-ng.1 $(DESTDIR)$(MANDIR)/man1/lsyncd-ng.1
	install -d $(DESTDIR)$(DOCDIR)/examples
	install -m 0644 configs/examples/* $(DESTDIR)$(DOCDIR)/examples/
	install -D -m 0644 $(BUILD)/lsyncd-ng.service $(DESTDIR)$(UNITDIR)/lsyncd-ng.service
	install -D -m 0644 $(BUILD)/lsyncd-ng@.service $(DESTDIR)$(UNITDIR)/lsyncd-ng@.service
	install -D -m 0755 $(BUILD)/lsyncd-ng.init $(DESTDIR)$(SYSCONFDIR)/init.d/lsyncd-ng
	install -D -m 0644 configs/lsyncd-ng.bash-completion $(DESTDIR)$(COMPLETIONDIR)/lsyncd-ng
	install -D -m 0644 configs/lsyncd-ng.logrotate $(DESTDIR)$(SYSCONFDIR)/logrotate.d/lsyncd-ng
	[ -e $(DESTDIR)$(SYSCONFDIR)/default/lsyncd-ng ] || \
	  install -D -m 0644 configs/lsyncd-ng.default $(DESTDIR)$(SYSCONFDIR)/default/lsyncd-ng
	install -d -m 0755 $(DESTDIR)$(SYSCONFDIR)/lsyncd-ng $(DESTDIR)$(LOGDIR) $(DESTDIR)$(STATEDIR)
	[ -e $(DESTDIR)$(SYSCONFDIR)/lsyncd-ng/lsyncd-ng.conf.lua ] || \
	  install -m 0644 configs/examples/lsyncd-ng.conf.lua.example $(DESTDIR)$(SYSCONFDIR)/lsyncd-ng/

# Leaves /etc/lsyncd-ng, /etc/default/lsyncd-ng, the logs and the state (the admin's).
uninstall:
	rm -f $(DESTDIR)$(BINDIR)/lsyncd-ng $(DESTDIR)$(MANDIR)/man1/lsyncd-ng.1 \
	      $(DESTDIR)$(UNITDIR)/lsyncd-ng.service $(DESTDIR)$(UNITDIR)/lsyncd-ng@.service \
	      $(DESTDIR)$(SYSCONFDIR)/init.d/lsyncd-ng $(DESTDIR)$(COMPLETIONDIR)/lsyncd-ng \
	      $(DESTDIR)$(SYSCONFDIR)/logrotate.d/lsyncd-ng
	rm -rf $(DESTDIR)$(DOCDIR)

# The Debian package, built by dpkg-buildpackage from a copy of the source
# (git's files, or the tree without build products) in a temporary dir, so
# neither this tree nor its parent gets build products; only the .deb lands here.
deb:
	@[ -n "$$LNG_NO_INSTALL_DEPS" ] || sh scripts/install-deps
	sh scripts/build-deb $(VERSION)

clean:
	rm -rf build build-asan lsyncd-ng lsyncd-ng-asan lsyncd-ng_*.deb

FORCE:

.PHONY: all check ctests asan check-asan demo install uninstall deb clean bench bench-quick FORCE
