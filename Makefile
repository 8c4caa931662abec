# The two commands a newcomer runs: `make demo` and `make test`. Both install what is missing
# (scripts/bootstrap.sh), configure with CMake + Ninja in Release, and build with -j2.
BUILD ?= build
JOBS ?= 2

.PHONY: all bootstrap configure build demo test bench clean format

all: build

bootstrap:
	@scripts/bootstrap.sh

configure: bootstrap
	@test -f $(BUILD)/build.ninja || cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Release

build: configure
	cmake --build $(BUILD) -j $(JOBS)

demo: build
	$(BUILD)/src/consort/cli/consort demo

test: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS) --timeout 300

bench: build
	scripts/run_bench.sh

clean:
	rm -rf $(BUILD)

format:
	clang-format -i $$(git ls-files '*.h' '*.cc')
