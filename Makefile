# The two commands (see README.md):
#   make demo   build, start the local stack, apply the example workflow, upload a clip
#               (or INPUT=path/to/video), print the outputs, stop
#   make test   every test: unit, adapter, end to end against the local stack, template lint,
#               the template's IAM checked (scripts/check-iam.sh)
# Both install what is missing first (scripts/setup.sh).

CARGO ?= cargo
# cargo-nextest when installed (a process per test), cargo test otherwise
RUN_TESTS = $(CARGO) $(shell $(CARGO) nextest --version >/dev/null 2>&1 && echo "nextest run" || echo test) --no-fail-fast
HOST_ARCH := $(if $(filter aarch64 arm64,$(shell uname -m)),arm64,x86_64)
HOST_LAYER := $(CURDIR)/layers/ffmpeg/build/layer-$(HOST_ARCH)

.PHONY: setup demo test test-layer lint layer bench partitions chaos

setup:
	@bash scripts/setup.sh

demo: setup
	$(CARGO) run --quiet -p mediaflow-cli --bin mediaflow -- dev demo $(if $(INPUT),--input "$(INPUT)")

test: setup
	@# the function binaries as `cargo lambda watch` builds them (one test runs the functions under
	@# it), and the command the CLI tests run
	$(CARGO) build --quiet --bin dispatcher
	$(CARGO) build --quiet --bin worker
	$(CARGO) build --quiet --bin mediaflow
	MEDIAFLOW_LOAD_TEST=1 $(RUN_TESTS) --workspace
	cfn-lint template.yaml
	@# the roles of the template as deployed: checkov's IAM checks and mediaflow's own rules
	bash scripts/check-iam.sh

# The end-to-end tests again, with the Lambda layer's own ffmpeg, ffprobe and font (built for
# this machine's architecture from the pinned packages).
test-layer: setup
	$(MAKE) -C layers/ffmpeg layer check ARCH=$(HOST_ARCH)
	FFMPEG_PATH=$(HOST_LAYER)/bin/ffmpeg FFPROBE_PATH=$(HOST_LAYER)/bin/ffprobe \
		FONT_PATH=$(HOST_LAYER)/fonts/DejaVuSans.ttf $(RUN_TESTS) -p integration-tests

# Measures the pipeline against bare ffmpeg and the usual download-encode-upload, the
# dispatcher per event by workflow count, the worker's footprint, chunked encoding and the
# console (release build); prints the figures. BENCH_ARGS=--skip-large leaves out the input of more than 1 GB.
bench: setup
	@# the console function's bootstrap, whose size and cold start section 5 measures
	$(CARGO) build --release --bin console
	$(CARGO) run --release -p mediaflow-bench -- $(BENCH_ARGS)

# The scale limits on paper: 1,000 uploads a second for a minute, simulated through the write
# paths with mediaflow's own key choices; prints the capacity units each DynamoDB partition and
# S3 prefix takes at its busiest second against its limit, and the Lambda concurrency needed
# (about a minute). PARTITIONS_ARGS="--rate 500 --seconds 30" for another load.
partitions:
	$(CARGO) run --quiet -p mediaflow-bench --bin partitions -- $(PARTITIONS_ARGS)

# A chaos run (release build): 100 uploads on a healthy stack, then 300 while 5 % of the
# functions' storage calls fail, worker and dispatcher processes are killed (SIGKILL), the
# storage server is restarted, unreachable for 5 s and its process stopped for 5 s; prints the
# table and the audit, fails when anything was lost, duplicated, stuck or overwritten.
# CHAOS_ARGS="--uploads 100 --calm 30" for a shorter one.
chaos: setup
	$(CARGO) build --release --bin dispatcher --bin worker --bin chaos
	@# the binary just built (a `cargo run` of its package alone would build it again with
	@# other features), which runs the functions' binaries beside it
	$${CARGO_TARGET_DIR:-target}/release/chaos $(CHAOS_ARGS)

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

# The ffmpeg Lambda layer (arm64); `sam build` builds it too.
layer:
	$(MAKE) -C layers/ffmpeg zip check
