#!/usr/bin/env bash
# Installs what the demo and the tests need, skipping whatever is already there:
#   apt: ffmpeg + ffprobe, the DejaVu font text watermarks are drawn with, and Chromium with
#        its driver for the console's browser tests
#   pip: moto[server] (the local S3/DynamoDB/SQS server, run by python3), cfn-lint,
#        cargo-lambda (`cargo lambda watch`, which the tests run the functions under too), and
#        aws-sam-translator with boto3 (a test creates template.yaml as a stack on moto)
# The Rust toolchain itself is expected (rustup); cargo-nextest is used when present.
set -euo pipefail

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

apt_packages=()
{ command -v ffmpeg && command -v ffprobe; } >/dev/null 2>&1 || apt_packages+=(ffmpeg)
[ -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || apt_packages+=(fonts-dejavu-core)
# the console's browser tests: Debian's Chromium (plays H.264) driven through chromedriver
command -v chromium >/dev/null 2>&1 || apt_packages+=(chromium)
command -v chromedriver >/dev/null 2>&1 || apt_packages+=(chromium-driver)
if [ ${#apt_packages[@]} -gt 0 ]; then
    echo "setup: installing ${apt_packages[*]} (apt)" >&2
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${apt_packages[@]}" >/dev/null
fi

pip_packages=()
python3 -c 'import moto.moto_server.werkzeug_app' >/dev/null 2>&1 || pip_packages+=('moto[server]>=5.1,<6')
command -v cfn-lint >/dev/null 2>&1 || pip_packages+=('cfn-lint>=1,<2')
command -v cargo-lambda >/dev/null 2>&1 || pip_packages+=('cargo-lambda>=1.9,<2')
python3 -c 'import samtranslator, boto3, yaml' >/dev/null 2>&1 || pip_packages+=('aws-sam-translator>=1.90,<2' 'boto3>=1.34,<2')
if [ ${#pip_packages[@]} -gt 0 ]; then
    echo "setup: installing ${pip_packages[*]} (pip)" >&2
    python3 -m pip install --quiet "${pip_packages[@]}" \
        || python3 -m pip install --quiet --user "${pip_packages[@]}"
    # pyenv exposes new console scripts only after a rehash
    if command -v pyenv >/dev/null 2>&1; then pyenv rehash; fi
fi

python3 -c 'import moto.moto_server.werkzeug_app' || { echo "setup: python3 cannot import moto" >&2; exit 1; }
python3 -c 'import samtranslator, boto3, yaml' || { echo "setup: python3 cannot import samtranslator" >&2; exit 1; }
for tool in ffmpeg ffprobe cfn-lint cargo-lambda; do
    command -v "$tool" >/dev/null 2>&1 || {
        echo "setup: $tool is still missing (is ~/.local/bin on PATH?)" >&2
        exit 1
    }
done
