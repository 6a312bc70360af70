#!/usr/bin/env bash
# Benchmark: is gathering concurrent? The lab delays every AWS API answer by
# LATENCY ms; each doctor run is timed and its AWS calls are counted, so the
# figures compare side by side, in one run, the wall time with the time the
# same calls would take one after another. SPEC §7 asks for no more than ~4
# round trips of wall time for a full run.
#   scripts/bench.sh [LATENCY_MS=100] [RUNS=5]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
latency="${1:-100}"
runs="${2:-5}"

tests/lab/setup.sh
cargo build --quiet

coproc LAB { .venv/bin/python tests/lab/lab.py --scenario healthy --imds --latency-ms "$latency" 2>/dev/null; }
lab_pid=$LAB_PID
trap 'exec {LAB[1]}>&- 2>/dev/null || true; kill "$lab_pid" 2>/dev/null || true; wait "$lab_pid" 2>/dev/null || true' EXIT
read -r -t 120 info <&"${LAB[0]}" || { echo "bench: the lab did not start" >&2; exit 1; }
field() { python3 -c 'import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$info" "$1"; }
endpoint="$(field endpoint_url)"
requests() { python3 -c 'import json,sys,urllib.request; print(json.load(urllib.request.urlopen(sys.argv[1] + "/lab/requests"))["requests"])' "$endpoint"; }

run_doctor() {
    env -u AWS_PROFILE -u AWS_REGION -u AWS_DEFAULT_REGION -u AWS_SESSION_TOKEN \
        AWS_ENDPOINT_URL="$endpoint" AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing \
        AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null "$@" \
        target/debug/tidbpe doctor --format json --timeout 30 --service-name "$(field service_name)" "${extra[@]}" > /dev/null || true
}

printf '%-34s %6s %9s %11s %12s %9s\n' mode calls "wall ms" "round trips" "serial ms" speedup
bench() {
    local mode="$1"; shift
    local total_ms=0 total_calls=0
    for _ in $(seq "$runs"); do
        local before after start end
        before=$(requests)
        start=$(date +%s%N)
        run_doctor "$@"
        end=$(date +%s%N)
        after=$(requests)
        total_ms=$((total_ms + (end - start) / 1000000))
        total_calls=$((total_calls + after - before))
    done
    python3 - "$mode" "$total_ms" "$total_calls" "$runs" "$latency" <<'PY'
import sys
mode, ms, calls, runs, lat = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])
wall, n = ms / runs, calls / runs
serial = n * lat
print(f"{mode:<34} {n:6.1f} {wall:9.0f} {wall / lat:11.2f} {serial:12.0f} {serial / wall:8.1f}x")
PY
}
extra=(--vpc-id "$(field vpc_id)" --instance-id "$(field instance_id)")
bench "--vpc-id --instance-id" AWS_EC2_METADATA_DISABLED=true
extra=()
bench "on the instance (IMDS discovery)" AWS_EC2_METADATA_SERVICE_ENDPOINT="$(field imds_url)"
extra=()
bench "unique endpoint (no IMDS)" AWS_EC2_METADATA_DISABLED=true
echo "latency ${latency} ms per AWS call; ${runs} runs each; round trips = wall / latency"
