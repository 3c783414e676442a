# quicklysign: build the C core for Lua 5.4 and LuaJIT, test, demo, bench, checks.
# `make help` lists the targets.

FLAVOURS      := lua5.4 luajit
LUA_lua5.4    := lua5.4
LUA_luajit    := luajit
INC_lua5.4    := /usr/include/lua5.4
INC_luajit    := /usr/include/luajit-2.1

CC            ?= cc
CFLAGS        ?= -O2 -g
QS_CFLAGS     := -std=c99 -fPIC -fvisibility=hidden -Wall -Wextra -Wshadow -Wstrict-prototypes
LDLIBS        := -lcurl -lpthread
SOURCES       := $(wildcard src/*.c)
HEADERS       := $(wildcard src/*.h)
MODULES       := $(foreach f,$(FLAVOURS),build/$(f)/quicklysign/core.so)

.PHONY: all build env deps deps-check test demo chaos bench check check-c check-lua check-valgrind check-asan check-fuzz rock clean help

all: build

help:
	@echo "make demo    run the end-to-end demo against the local emulator (installs what is missing)"
	@echo "make test    build and run every test on Lua 5.4 and LuaJIT (installs what is missing)"
	@echo "make build   build quicklysign.core for Lua 5.4 and LuaJIT into build/"
	@echo "make env     print the exports that let lua5.4 use this checkout: eval \"\$$(make -s env)\""
	@echo "make check   warnings as errors, cppcheck, luacheck, valgrind, ASan runs, fuzz seed replays"
	@echo "make chaos   durable receiving with workers (and Redis) killed at random: 0 lost, 0 dead"
	@echo "make bench   run the benchmarks (bench/README.md)"
	@echo "make rock    luarocks make into ./.tree (what users get)"

deps:
	@scripts/install-deps test

deps-check:
	@scripts/install-deps check

build: $(MODULES)

# Lua 5.4 from this checkout, without installing: eval "$(make -s env)"
env: build
	@echo "export LUA_PATH='$(CURDIR)/lua/?.lua;$(CURDIR)/lua/?/init.lua;;'"
	@echo "export LUA_CPATH='$(CURDIR)/build/lua5.4/?.so;;'"

build/%/quicklysign/core.so: $(SOURCES) $(HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(QS_CFLAGS) -I$(INC_$*) $(SOURCES) -shared -o $@ $(LDLIBS)

test: deps build
	scripts/run-tests

demo: deps build
	examples/demo

# Durable receiving under SIGKILL of workers (and of redis-server): scripts/chaos.lua
chaos: deps build
	scripts/chaos --backend redis
	scripts/chaos --backend sqlite

bench: deps build
	bench/run

check: deps-check check-c check-lua check-valgrind check-asan check-fuzz

check-c:
	$(MAKE) -B build CFLAGS="-O2 -g -Werror"
	cppcheck --quiet --error-exitcode=1 --enable=warning,portability,performance \
	  --std=c99 -I src --suppress=missingIncludeSystem src

check-lua:
	luacheck --quiet lua spec examples bench emulator bin/quicklysign scripts/*.lua

# The C core under memory checkers: the specs that exercise it.
check-valgrind: build
	scripts/run-tests --valgrind --flavour lua5.4 spec/client

check-asan:
	scripts/run-tests --asan spec/client

# The fuzzers' seeds (each past finding among them) replayed: under ASan+UBSan,
# and the JSON ones under valgrind, which sees the Lua stack that ASan cannot.
check-fuzz:
	fuzz/run --build
	for h in redact origin filename retry_after json response; do \
	  fuzz/run --replay $$h fuzz/seeds/$$h/* >build/fuzz/replay-$$h.log 2>&1 || \
	  { tail -20 build/fuzz/replay-$$h.log; exit 1; }; done
	fuzz/run --valgrind json fuzz/seeds/json/* >build/fuzz/valgrind-json.log 2>&1 || \
	  { tail -20 build/fuzz/valgrind-json.log; exit 1; }

rock:
	luarocks make --deps-mode=none --tree .tree quicklysign-scm-1.rockspec

clean:
	rm -rf build .tree
