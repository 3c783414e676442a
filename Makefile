# quicklysign: build the C core for every Lua (5.1, 5.2, 5.3, 5.4, LuaJIT), test, docs, dist,
# demo, bench, checks. `make help` lists the targets.

# The version is written once, in src/qs.h (QS_VERSION); everything else reads it from there.
VERSION       := $(shell sed -n 's/^\#define QS_VERSION "\(.*\)"$$/\1/p' src/qs.h)

# One flavour per Lua: its interpreter and its headers (LuaJIT builds against LuaJIT's own).
FLAVOURS      := lua5.1 lua5.2 lua5.3 lua5.4 luajit
INC_lua5.1    := /usr/include/lua5.1
INC_lua5.2    := /usr/include/lua5.2
INC_lua5.3    := /usr/include/lua5.3
INC_lua5.4    := /usr/include/lua5.4
INC_luajit    := /usr/include/luajit-2.1

CC            ?= cc
CFLAGS        ?= -O2 -g
SOURCES       := $(wildcard src/*.c)
HEADERS       := $(wildcard src/*.h)
LDLIBS        := -lcurl -lpthread

# The one compile recipe of the C core, shared by the plain build, the ASan/UBSan build that
# scripts/run-tests --asan loads, and the fuzzers (fuzz/run calls the fuzz-* targets):
#   $(call core_cc,<compiler>,<extra flags>,<flavour>) <sources or -c file> -o <out>
CORE_CFLAGS   := -std=c99 -fPIC -fvisibility=hidden -Wall -Wextra -Wshadow -Wstrict-prototypes
SAN_CFLAGS    := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
core_cc        = $(1) $(2) $(CORE_CFLAGS) -I$(INC_$(3))

MODULES       := $(foreach f,$(FLAVOURS),build/$(f)/quicklysign/core.so)
ASAN_CC       ?= clang

# Fuzzers: one harness per fuzz/*.c, linked with every object of src/ but the one it #includes.
FUZZ_CC       ?= clang
FUZZ_FLAVOUR  := lua5.4
FUZZ_LUA_LIB  := -llua5.4
FUZZERS       := $(basename $(notdir $(wildcard fuzz/*.c)))
FUZZ_OBJS     := $(patsubst src/%.c,build/fuzz/obj/%.o,$(SOURCES))
FUZZ_VG_OBJS  := $(patsubst src/%.c,build/fuzz/valgrind/obj/%.o,$(SOURCES))
fuzz_included  = $(shell sed -n 's|^\#include "\.\./src/\(.*\)\.c"$$|\1|p' fuzz/$(1).c)

.PHONY: all build env deps deps-check test demo chaos bench check check-c check-layers check-lua check-valgrind \
  check-asan check-fuzz asan fuzz-build fuzz-valgrind-build rock dist check-dist docs completions version clean help

all: build

help:
	@echo "make demo    run the end-to-end demo against the local emulator (installs what is missing)"
	@echo "make test    build and run every test on Lua 5.1, 5.2, 5.3, 5.4 and LuaJIT (installs what is missing)"
	@echo "make build   build quicklysign.core for every Lua into build/<flavour>/"
	@echo "make env     print the exports that let lua5.4 use this checkout: eval \"\$$(make -s env)\""
	@echo "make check   warnings as errors, cppcheck, luacheck, valgrind, ASan runs, fuzz seed replays"
	@echo "make docs    the API reference (LDoc, config.ld) into build/docs/, any warning an error"
	@echo "make dist    the source rock of this version into dist/, from the checkout, offline"
	@echo "make check-dist  install that rock into fresh trees (every Lua) and run the examples"
	@echo "make chaos   durable receiving with workers (and Redis) killed at random: 0 lost, 0 dead"
	@echo "make bench   run the benchmarks (bench/README.md)"
	@echo "make rock    luarocks make into ./.tree (what users get)"
	@echo "make version print the version (from src/qs.h)"

version:
	@echo $(VERSION)

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
	$(call core_cc,$(CC),$(CFLAGS),$*) $(SOURCES) -shared -o $@ $(LDLIBS)

# The module under AddressSanitizer + UBSan (the interpreter is not instrumented: run-tests
# preloads the runtime). make asan FLAVOURS=lua5.4
asan: $(foreach f,$(FLAVOURS),build/asan/$(f)/quicklysign/core.so)

build/asan/%/quicklysign/core.so: $(SOURCES) $(HEADERS)
	@mkdir -p $(dir $@)
	$(call core_cc,$(ASAN_CC),-g -O1 $(SAN_CFLAGS),$*) $(SOURCES) -shared -o $@ $(LDLIBS)

fuzz-build: $(addprefix build/fuzz/,$(FUZZERS))
fuzz-valgrind-build: $(addprefix build/fuzz/valgrind/,$(FUZZERS))

build/fuzz/obj/%.o: src/%.c $(HEADERS)
	@mkdir -p $(dir $@)
	$(call core_cc,$(FUZZ_CC),-g -O1 $(SAN_CFLAGS) -fsanitize=fuzzer-no-link,$(FUZZ_FLAVOUR)) -c $< -o $@

build/fuzz/valgrind/obj/%.o: src/%.c $(HEADERS)
	@mkdir -p $(dir $@)
	$(call core_cc,$(FUZZ_CC),-g -O1 -gdwarf-4 -fsanitize=fuzzer-no-link,$(FUZZ_FLAVOUR)) -c $< -o $@

$(addprefix build/fuzz/,$(FUZZERS)): build/fuzz/%: fuzz/%.c fuzz/common.h $(FUZZ_OBJS)
	$(call core_cc,$(FUZZ_CC),-g -O1 $(SAN_CFLAGS) -fsanitize=fuzzer,$(FUZZ_FLAVOUR)) $< \
	  $(filter-out build/fuzz/obj/$(call fuzz_included,$*).o,$(FUZZ_OBJS)) -o $@ $(FUZZ_LUA_LIB) $(LDLIBS) -lm

$(addprefix build/fuzz/valgrind/,$(FUZZERS)): build/fuzz/valgrind/%: fuzz/%.c fuzz/common.h $(FUZZ_VG_OBJS)
	$(call core_cc,$(FUZZ_CC),-g -O1 -gdwarf-4 -fsanitize=fuzzer,$(FUZZ_FLAVOUR)) $< \
	  $(filter-out build/fuzz/valgrind/obj/$(call fuzz_included,$*).o,$(FUZZ_VG_OBJS)) -o $@ \
	  $(FUZZ_LUA_LIB) $(LDLIBS) -lm

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
	$(MAKE) check-layers

# src/qs.h's layering comment, checked against what each object file uses (nm).
LAYER_OBJS    := $(patsubst src/%.c,build/layers/%.o,$(SOURCES))
build/layers/%.o: src/%.c $(HEADERS)
	@mkdir -p $(@D)
	$(call core_cc,$(CC),-O0,lua5.4) -c $< -o $@

check-layers: $(LAYER_OBJS)
	lua5.4 scripts/check-layers.lua build/layers

check-lua:
	luacheck --quiet lua spec examples bench emulator bin/quicklysign scripts/*.lua

# The C core under memory checkers: the specs that exercise it.
check-valgrind: build
	scripts/run-tests --valgrind --flavour lua5.4 spec/client

check-asan:
	scripts/run-tests --asan --flavour lua5.4 --flavour luajit spec/client

# The fuzzers' seeds (each past finding among them) replayed: under ASan+UBSan,
# and the JSON ones under valgrind, which sees the Lua stack that ASan cannot.
check-fuzz:
	fuzz/run --build
	for h in $(FUZZERS); do \
	  fuzz/run --replay $$h fuzz/seeds/$$h/* >build/fuzz/replay-$$h.log 2>&1 || \
	  { tail -20 build/fuzz/replay-$$h.log; exit 1; }; done
	fuzz/run --valgrind json fuzz/seeds/json/* >build/fuzz/valgrind-json.log 2>&1 || \
	  { tail -20 build/fuzz/valgrind-json.log; exit 1; }

rock:
	luarocks make --deps-mode=none --tree .tree quicklysign-scm-1.rockspec

# The shell completion scripts the rock installs, from what `quicklysign completion` prints
# (spec/cli/tty_spec.lua fails when they differ).
completions: build
	LUA_PATH='$(CURDIR)/lua/?.lua;;' LUA_CPATH='$(CURDIR)/build/lua5.4/?.so;;' lua5.4 bin/quicklysign completion bash >completions/quicklysign.bash
	LUA_PATH='$(CURDIR)/lua/?.lua;;' LUA_CPATH='$(CURDIR)/build/lua5.4/?.so;;' lua5.4 bin/quicklysign completion zsh >completions/_quicklysign

# The API reference: config.ld lists the files; a warning (a broken reference, a bad tag) fails.
docs:
	@scripts/install-deps docs
	ldoc --fatalwarnings --testing --quiet .
	@echo "API reference: build/docs/index.html"

# The source rock of $(VERSION), from HEAD, offline (scripts/make-dist says how).
dist:
	@scripts/make-dist

check-dist: dist
	scripts/check-dist

clean:
	rm -rf build .tree dist
