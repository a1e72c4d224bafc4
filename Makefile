# The two commands (see README.md):
#   make demo   build, start the local stack, apply the example workflow, upload a clip
#               (or INPUT=path/to/video), print the outputs, stop
#   make test   every test: unit, adapter, end to end against the local stack, template lint
# Both install what is missing first (scripts/setup.sh).

CARGO ?= cargo

.PHONY: setup demo test lint layer

setup:
	@bash scripts/setup.sh

demo: setup
	$(CARGO) run --quiet -p mediaflow-cli --bin mediaflow -- dev demo $(if $(INPUT),--input "$(INPUT)")

test: setup
	@if $(CARGO) nextest --version >/dev/null 2>&1; then \
		$(CARGO) nextest run --workspace --no-fail-fast; \
	else \
		$(CARGO) test --workspace --no-fail-fast; \
	fi
	cfn-lint template.yaml

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

# The ffmpeg Lambda layer (arm64); `sam build` builds it too.
layer:
	$(MAKE) -C layers/ffmpeg zip check
