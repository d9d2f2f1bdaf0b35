# auditdb - GNU make build. See README.md; `make help` lists the targets.
#
#   make            release build (-O2) in build/release
#   make test       dependencies, sanitizer build in build/test, every test
#   make run        dependencies, release build, auditdb serve on the embedded database
#   make install    PREFIX=/usr/local DESTDIR=  binary, headers, libraries, auditdb.pc
#   make bench      ingestion (library, and HTTP from an empty database), verification and archival
#                   against raw COPY; query latency over HTTP; receipts verified offline;
#                   the GDPR export of a million events (RSS, against COPY TO); delivery:
#                   enqueue-to-first-byte p50/p99, deliveries/s against a plain libcurl loop
#   make fuzz       every libFuzzer target for FUZZ_TIME seconds (default 300)
#   make clean

MODE     ?= release
PREFIX   ?= /usr/local
DESTDIR  ?=
BUILD    := build/$(MODE)
V        ?= 0
Q        := $(if $(filter 1,$(V)),,@)
CC       ?= cc
PKGS     := libpq openssl libmicrohttpd jansson libcurl hiredis libzstd zlib cairo fontconfig
VERSION  := $(shell sed -n 's/^\#define ADB_VERSION_STRING "\(.*\)"/\1/p' include/auditdb.h)

WARN     := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wformat=2 -Wno-format-nonliteral
CSTD     := -std=c11 -D_GNU_SOURCE
ifeq ($(MODE),test)
OPT      := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined
# test builds only: hooks a test may use (the delivery clock, src/delivery/clock.c)
CFLAGS   += -DADB_TEST_BUILD
else
OPT      := -O2 -g
endif
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
CFLAGS   += $(CSTD) $(WARN) $(OPT) -fPIC -Iinclude $(PKG_CFLAGS) -MMD -MP
LDFLAGS  += $(filter -fsanitize=%,$(OPT))
LIBS     := $(PKG_LIBS) -lpthread -lm

LIB_SRC  := $(wildcard src/core/*.c src/db/*.c src/event/*.c src/integrity/*.c src/log/*.c src/writer/*.c src/auth/*.c src/lifecycle/*.c src/compliance/*.c src/delivery/*.c src/report/*.c src/alert/*.c src/detect/*.c src/monitor/*.c)
APP_SRC  := $(wildcard src/cli/*.c src/http/*.c)
MIGRATIONS := $(sort $(wildcard migrations/*.sql))
GEN_MIG  := $(BUILD)/gen/migrations_builtin.c

LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/%.o) $(BUILD)/gen/migrations_builtin.o
APP_OBJ  := $(APP_SRC:%.c=$(BUILD)/%.o) $(BUILD)/gen/openapi.o

TEST_SRC := $(wildcard tests/unit/test_*.c)
TEST_BIN := $(TEST_SRC:tests/unit/%.c=$(BUILD)/tests/%)

# libFuzzer targets: fuzz/fuzz_NAME.c with its seed corpus in fuzz/corpus/NAME/
FUZZ_CC  ?= clang
FUZZ_SRC := src/event/json.c src/event/event.c src/event/event_id.c src/integrity/hash.c src/integrity/commit.c src/integrity/keys.c src/core/key_file.c src/core/util.c src/core/digest.c src/core/buf.c
# the report renderers (fuzz_report_render; cairo and fontconfig come with PKG_LIBS)
FUZZ_SRC += $(wildcard src/report/render*.c) src/report/zip.c
FUZZERS  := $(patsubst fuzz/%.c,build/fuzz/%,$(wildcard fuzz/fuzz_*.c))
FUZZ_TIME ?= 300

BIN      := $(BUILD)/auditdb
STATIC   := $(BUILD)/libauditdb.a
SHARED   := $(BUILD)/libauditdb.so.$(VERSION)

.PHONY: all release test run install clean deps help test-build fuzz fuzz-build bench
.DEFAULT_GOAL := all

all: $(BIN) $(STATIC) $(SHARED)

help:
	@sed -n 's/^#   //p' Makefile

deps:
	@scripts/deps.sh $(DEPS_SET)

$(BUILD)/tools/embed_migrations: tools/embed_migrations.c
	@mkdir -p $(dir $@)
	$(CC) -std=c11 -O1 -Wall -Wextra -Werror -o $@ $<

$(GEN_MIG): $(BUILD)/tools/embed_migrations $(MIGRATIONS)
	@mkdir -p $(dir $@)
	$(BUILD)/tools/embed_migrations $@ $(MIGRATIONS)

$(BUILD)/tools/embed_file: tools/embed_file.c
	@mkdir -p $(dir $@)
	$(Q)$(CC) -std=c11 -O1 -Wall -Wextra -Werror -o $@ $<

# the OpenAPI document served at /api/v1/openapi.json
$(BUILD)/gen/openapi.c: $(BUILD)/tools/embed_file api/openapi.json
	@mkdir -p $(dir $@)
	$(Q)$(BUILD)/tools/embed_file $@ adb__openapi_json api/openapi.json

$(BUILD)/gen/%.o: $(BUILD)/gen/%.c
	@echo "  CC      $<"
	$(Q)$(CC) $(CFLAGS) -c -o $@ $<

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	$(Q)$(CC) $(CFLAGS) -c -o $@ $<

$(STATIC): $(LIB_OBJ)
	rm -f $@
	ar rcs $@ $^

$(SHARED): $(LIB_OBJ)
	$(CC) -shared -Wl,-soname,libauditdb.so.$(firstword $(subst ., ,$(VERSION))) $(LDFLAGS) -o $@ $^ $(LIBS)

$(BIN): $(APP_OBJ) $(STATIC)
	@echo "  LINK    $@"
	$(Q)$(CC) $(LDFLAGS) -o $@ $(APP_OBJ) $(STATIC) $(LIBS)

$(BUILD)/tests/%: tests/unit/%.c tests/unit/t.h $(STATIC)
	@mkdir -p $(dir $@)
	@echo "  TEST    $<"
	$(Q)$(CC) $(CFLAGS) -Isrc -o $@ $< $(STATIC) $(LDFLAGS) $(LIBS)

test-build: $(BIN) $(STATIC) $(TEST_BIN) fuzz-build

fuzz-build: $(FUZZERS)

build/fuzz/%: fuzz/%.c $(FUZZ_SRC) $(wildcard src/event/*.h src/integrity/*.h include/*.h include/auditdb/*.h)
	@mkdir -p $(dir $@)
	@echo "  FUZZ    $<"
	$(Q)$(FUZZ_CC) -g -O1 -std=c11 -D_GNU_SOURCE -fsanitize=fuzzer,address,undefined \
	    -Iinclude -Isrc $(PKG_CFLAGS) -o $@ $< $(FUZZ_SRC) $(PKG_LIBS)

# Each fuzzer for FUZZ_TIME seconds on a copy of its seed corpus (new
# findings stay in build/fuzz/corpus-NAME; crashes in build/fuzz/).
fuzz: fuzz-build
	@for f in $(FUZZERS); do n=$${f#build/fuzz/fuzz_}; \
	    mkdir -p build/fuzz/corpus-$$n && cp -n fuzz/corpus/$$n/* build/fuzz/corpus-$$n/ 2>/dev/null; \
	    echo "fuzzing $$n for $(FUZZ_TIME) s"; \
	    (cd build/fuzz && ./fuzz_$$n -max_total_time=$(FUZZ_TIME) -print_final_stats=1 corpus-$$n) || exit 1; \
	done

# The suite: dependencies, a sanitizer build, then tests/run.sh (unit,
# integration against a throwaway embedded PostgreSQL, CLI and HTTP tests).
test:
	@DEPS_SET=test $(MAKE) --no-print-directory deps
	@$(MAKE) --no-print-directory MODE=test test-build
	@tests/run.sh build/test

# Benchmarks: release build, a throwaway cluster, figures as ratios against
# PostgreSQL's own speed in the same run (bench/README.md).
$(BUILD)/bench/%: bench/%.c bench/bench_util.h $(STATIC)
	@mkdir -p $(dir $@)
	@echo "  BENCH   $<"
	$(Q)$(CC) $(CFLAGS) -Isrc -o $@ $< $(STATIC) $(LDFLAGS) $(LIBS)

# the open-loop load client of bench/query.sh (HTTP, or PostgreSQL for the reference): libc and libpq
$(BUILD)/bench/loadgen: bench/loadgen.c
	@mkdir -p $(dir $@)
	@echo "  BENCH   $<"
	$(Q)$(CC) $(CFLAGS) -o $@ $< $(LDFLAGS) $(shell pkg-config --libs libpq) -pthread

bench:
	@DEPS_SET=bench $(MAKE) --no-print-directory deps
	@$(MAKE) --no-print-directory MODE=release all build/release/bench/bench_ingest \
	    build/release/bench/bench_archive build/release/bench/loadgen build/release/bench/http_ingest \
	    build/release/bench/bench_proofs build/release/bench/bench_receipts \
	    build/release/bench/bench_verify build/release/bench/bench_post
	@scripts/with-cluster.sh build/release/auditdb build/release/bench/bench_ingest
	@scripts/with-cluster.sh build/release/auditdb bench/http_ingest.sh
	@scripts/with-cluster.sh build/release/auditdb build/release/bench/bench_archive
	@scripts/with-cluster.sh build/release/auditdb bench/query.sh
	@scripts/with-cluster.sh build/release/auditdb bench/gdpr_export.sh
	@build/release/bench/bench_proofs
	@scripts/with-cluster.sh build/release/auditdb bench/receipts.sh
	@scripts/with-cluster.sh build/release/auditdb build/release/bench/bench_verify
	@scripts/with-cluster.sh build/release/auditdb bench/delivery.sh
	@scripts/with-cluster.sh build/release/auditdb bench/reports.sh
	@scripts/with-cluster.sh build/release/auditdb bench/detect.sh
	@scripts/with-cluster.sh build/release/auditdb bench/metrics.sh

run:
	@DEPS_SET=run $(MAKE) --no-print-directory deps
	@$(MAKE) --no-print-directory MODE=release all
	@build/release/auditdb serve

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/include/auditdb \
	    $(DESTDIR)$(PREFIX)/lib/pkgconfig
	install -m 0755 $(BIN) $(DESTDIR)$(PREFIX)/bin/auditdb
	install -m 0644 include/auditdb.h $(DESTDIR)$(PREFIX)/include/auditdb.h
	install -m 0644 include/auditdb/*.h $(DESTDIR)$(PREFIX)/include/auditdb/
	install -m 0644 $(STATIC) $(DESTDIR)$(PREFIX)/lib/libauditdb.a
	install -m 0755 $(SHARED) $(DESTDIR)$(PREFIX)/lib/libauditdb.so.$(VERSION)
	ln -sf libauditdb.so.$(VERSION) $(DESTDIR)$(PREFIX)/lib/libauditdb.so.$(firstword $(subst ., ,$(VERSION)))
	ln -sf libauditdb.so.$(VERSION) $(DESTDIR)$(PREFIX)/lib/libauditdb.so
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@VERSION@|$(VERSION)|g' \
	    -e 's|@REQUIRES@|$(PKGS)|g' auditdb.pc.in > $(DESTDIR)$(PREFIX)/lib/pkgconfig/auditdb.pc

clean:
	rm -rf build

-include $(shell find build -name '*.d' 2>/dev/null)
