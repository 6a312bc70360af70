#!/usr/bin/env bash
# Benchmark: is gathering concurrent? Each doctor mode runs side by side with
# no injected latency and with every AWS API answer delayed by LATENCY ms (a
# delay inside the lab's moto). The difference of the wall times, divided by
# the latency, is the number of AWS round trips the run waits for in a row;
# the calls are counted too, so it compares with doing them one by one.
# SPEC §7: no more than ~4 round trips for a full run.
#   scripts/bench.sh [LATENCY_MS=100] [RUNS=5]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
latency="${1:-100}"
runs="${2:-5}"

tests/lab/setup.sh
cargo build --quiet

coproc LAB { .venv/bin/python tests/lab/lab.py --scenario healthy --imds 2>/dev/null; }
lab_pid=$LAB_PID
trap 'exec {LAB[1]}>&- 2>/dev/null || true; kill "$lab_pid" 2>/dev/null || true; wait "$lab_pid" 2>/dev/null || true' EXIT
read -r -t 120 info <&"${LAB[0]}" || { echo "bench: the lab did not start" >&2; exit 1; }
field() { python3 -c 'import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$info" "$1"; }
endpoint="$(field endpoint_url)"
lab_get() { python3 -c 'import json,sys,urllib.request; print(json.load(urllib.request.urlopen(sys.argv[1]))["requests"])' "$endpoint$1"; }

# One mode at one latency: prints "<mean wall ms> <mean calls>".
measure() {
    local ms="$1"; shift
    lab_get "/lab/latency?ms=$ms" > /dev/null
    local total_ms=0 total_calls=0 before after start end
    for _ in $(seq "$runs"); do
        before=$(lab_get /lab/requests)
        start=$(date +%s%N)
        env -u AWS_PROFILE -u AWS_REGION -u AWS_DEFAULT_REGION -u AWS_SESSION_TOKEN \
            AWS_ENDPOINT_URL="$endpoint" AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing \
            AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null "$@" \
            target/debug/tidbpe doctor --format json --timeout 60 --service-name "$(field service_name)" "${extra[@]}" > /dev/null || true
        end=$(date +%s%N)
        after=$(lab_get /lab/requests)
        total_ms=$((total_ms + (end - start) / 1000000))
        total_calls=$((total_calls + after - before))
    done
    echo "$((total_ms / runs)) $((total_calls / runs))"
}

printf '%-34s %5s %8s %9s %11s %10s\n' mode calls "0 ms" "${latency} ms" "round trips" "one by one"
bench() {
    local mode="$1"; shift
    read -r base calls < <(measure 0 "$@")
    read -r slow _ < <(measure "$latency" "$@")
    python3 - "$mode" "$calls" "$base" "$slow" "$latency" <<'PY'
import sys
mode, calls, base, slow, lat = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])
print(f"{mode:<34} {calls:5d} {base:8d} {slow:9d} {(slow - base) / lat:11.1f} {calls:10d}")
PY
}
extra=(--vpc-id "$(field vpc_id)" --instance-id "$(field instance_id)")
bench "--vpc-id --instance-id" AWS_EC2_METADATA_DISABLED=true
# On "the instance" the doctor would probe with this machine's own resolver:
# these runs measure the AWS round trips only.
extra=(--no-probe)
bench "on the instance (IMDS discovery)" AWS_EC2_METADATA_SERVICE_ENDPOINT="$(field imds_url)"
bench "unique endpoint (no IMDS)" AWS_EC2_METADATA_DISABLED=true
lab_get "/lab/latency?ms=0" > /dev/null
echo "wall times are means of ${runs} runs; round trips = (wall at ${latency} ms - wall at 0 ms) / ${latency} ms;"
echo "'one by one' is the round trips the same calls would take in sequence."
