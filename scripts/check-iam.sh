#!/usr/bin/env bash
# The template's IAM checked statically, as `.ci/run` does: template.yaml translated as
# `sam deploy` would (infra/local/src/sam_on_moto.py --translate), then checkov's IAM checks (in a virtual
# environment of its own under target/: its pinned boto3 would clash with moto's) and mediaflow's
# own rules (scripts/check_iam.py: no wildcard actions or resources, no webhook secrets for the
# console).
set -euo pipefail
cd "$(dirname "$0")/.."
venv=target/checkov-venv
if [ ! -x "$venv/bin/checkov" ]; then
	echo "check-iam: installing checkov (pip, into $venv)"
	python3 -m venv "$venv"
	"$venv/bin/pip" install -q checkov
fi
mkdir -p target
python3 infra/local/src/sam_on_moto.py --translate template.yaml target/template.translated.json
"$venv/bin/checkov" -f target/template.translated.json --framework cloudformation --skip-download --compact --quiet \
	--check CKV_AWS_40,CKV_AWS_60,CKV_AWS_61,CKV_AWS_62,CKV_AWS_63,CKV_AWS_107,CKV_AWS_108,CKV_AWS_109,CKV_AWS_110,CKV_AWS_111,CKV_AWS_355,CKV_AWS_356
python3 scripts/check_iam.py target/template.translated.json
