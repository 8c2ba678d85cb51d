# Thin front-end over Meson + Ninja. The two commands that do everything:
#   make run    install build dependencies, build, start the server (http://127.0.0.1:8080/)
#   make test   install test dependencies, build (normal + ASan/UBSan), run every test
ARGS ?=

.PHONY: all run test bench deps clean

all: build/build.ninja
	ninja -C build

# Tests need cmocka and libsrtp2 (scripts/install-deps.sh --test); `make test` turns them on.
build/build.ninja:
	meson setup build -Dtests=false

deps:
	scripts/install-deps.sh

run: deps all
	./build/junction $(ARGS)

test:
	scripts/run-tests.sh

# Junction and Janus side by side under junction-load (docs/BENCHMARKS.md).
bench:
	bench/run.sh $(ARGS)

clean:
	rm -rf build build-asan build-bench
