#!/usr/bin/env bash
# The lab demo: start moto with a simulated VPC whose DNS hostnames attribute
# is off, pretend to be its client instance (the lab serves IMDSv2 on
# loopback), and run `tidbpe doctor` against it as a user would on EC2.
# Nothing leaves this machine: AWS is moto on 127.0.0.1, credentials are dummies.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
scenario="${1:-dns-hostnames-off}"

tests/lab/setup.sh
echo "demo: building tidbpe (the first build compiles the AWS SDK: several minutes)…" >&2
cargo build --quiet

# The lab serves until its stdin closes: keep a pipe open, close it on exit.
coproc LAB { .venv/bin/python tests/lab/lab.py --scenario "$scenario" --imds 2>/dev/null; }
lab_pid=$LAB_PID
trap 'exec {LAB[1]}>&- 2>/dev/null || true; kill "$lab_pid" 2>/dev/null || true; wait "$lab_pid" 2>/dev/null || true' EXIT
read -r -t 120 info <&"${LAB[0]}" || { echo "demo: the lab did not start" >&2; exit 1; }
field() { python3 -c 'import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$info" "$1"; }
service="$(field service_name)"
echo "demo: lab ready: scenario $scenario, moto at $(field endpoint_url), instance $(field instance_id) in $(field vpc_id)" >&2
echo "demo: \$ tidbpe doctor --service-name $service" >&2
echo >&2

set +e
env -u AWS_PROFILE -u AWS_REGION -u AWS_DEFAULT_REGION -u AWS_SESSION_TOKEN \
    AWS_ENDPOINT_URL="$(field endpoint_url)" \
    AWS_EC2_METADATA_SERVICE_ENDPOINT="$(field imds_url)" \
    AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing \
    AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null \
    target/debug/tidbpe doctor --service-name "$service"
code=$?
set -e
echo >&2
echo "demo: tidbpe exited with $code (0 healthy, 1 broken, 3 incomplete)" >&2
