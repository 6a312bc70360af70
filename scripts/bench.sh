#!/usr/bin/env bash
# Benchmark (not a test): how many AWS round trips does a doctor run wait for
# in a row, against how many it must (the limit), and against the manual way —
# the same reads with the AWS CLI, one command after another, as the guide
# has the user do them. Also the start-up time of the commands that need no AWS.
#
#   scripts/bench.sh [LATENCY_MS=100] [RUNS=5]
#
# The release binary is built in its own target directory (BENCH_TARGET_DIR,
# default target/bench): the FIRST BUILD TAKES ~15 MINUTES on 2 cores (the
# AWS SDK in release); later ones only rebuild tidbpe. TIDBPE_BENCH_BIN=PATH
# measures that binary instead (no build).
#
# Each doctor mode runs RUNS pairs of runs, one with no injected latency and
# one with every AWS answer delayed by LATENCY ms (inside the lab's moto,
# which counts the requests), after a warm-up pass. Round trips waited in a
# row: trips = median of (wall at LATENCY - wall at 0) / LATENCY; rounds = the
# lab's count of requests that waited for one another in a row (GET
# /lab/rounds), which no CPU time blurs. The limit is the number of dependent
# rounds the run cannot avoid: 1, +1 when the VPC comes from a listing (the
# unique endpoint, --instance-id alone), +1 when a group names a prefix list
# (its entries can only be asked for once the group is read), a Resolver rule
# is associated, or a hosted zone covers the host (these run side by side).
# The live probes are off (--no-probe) except in the "probes" rows, where they
# ask a DNS responder on loopback that answers the host with 127.0.0.1 and
# connect to a listener there that greets as TiDB
# (tests/lab/loopback_client_side.py): nothing leaves loopback.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
latency="${1:-100}"
runs="${2:-5}"
cli_runs=$(( runs < 3 ? runs : 3 ))

tests/lab/setup.sh
if [ -n "${TIDBPE_BENCH_BIN:-}" ]; then
    bin="$TIDBPE_BENCH_BIN"
else
    export CARGO_TARGET_DIR="${BENCH_TARGET_DIR:-$PWD/target/bench}"
    if [ ! -x "$CARGO_TARGET_DIR/release/tidbpe" ]; then
        echo "bench: building the release binary in $CARGO_TARGET_DIR (the first time: ~15 minutes on 2 cores)" >&2
    fi
    cargo build --quiet --release --locked
    bin="$CARGO_TARGET_DIR/release/tidbpe"
fi
aws_cli="$PWD/.venv/bin/aws"

tmp="$(mktemp -d)"
coproc LAB { .venv/bin/python tests/lab/lab.py --scenario healthy --scenario large --imds 2>"$tmp/lab.log"; }
lab_pid=$LAB_PID
client_side_pid=""
cleanup() {
    exec {LAB[1]}>&- 2>/dev/null || true
    kill "$lab_pid" 2>/dev/null || true
    wait "$lab_pid" 2>/dev/null || true
    if [ -n "$client_side_pid" ]; then
        kill "$client_side_pid" 2>/dev/null || true
        wait "$client_side_pid" 2>/dev/null || true
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT
read -r -t 180 info <&"${LAB[0]}" || { echo "bench: the lab did not start" >&2; cat "$tmp/lab.log" >&2; exit 1; }
echo "$info" > "$tmp/lab.json"
# field WORLD KEY: a value of the lab's JSON.
field() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["scenarios"][sys.argv[2]][sys.argv[3]])' "$tmp/lab.json" "$1" "$2"; }
endpoint="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["endpoint_url"])' "$tmp/lab.json")"
# lab_requests: how many AWS requests the lab has answered since it started.
lab_requests() { python3 -c 'import json,sys,urllib.request; print(json.load(urllib.request.urlopen(sys.argv[1]))["requests"])' "$endpoint/lab/requests"; }
# lab_rounds N: how many of the requests from the N-th on waited for one another in a row.
lab_rounds() { python3 -c 'import json,sys,urllib.request; print(json.load(urllib.request.urlopen(sys.argv[1]))["rounds"])' "$endpoint/lab/rounds?since=$1"; }
set_latency() { python3 -c 'import sys,urllib.request; urllib.request.urlopen(sys.argv[1]).read()' "$endpoint/lab/latency?ms=$1"; }
median() { python3 -c 'import statistics,sys; print(round(statistics.median(float(x) for x in sys.argv[1:])))' "$@"; }
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

probe_flag=(--no-probe)

# The client side of the runs with probes, on loopback: a DNS responder
# answering the host with 127.0.0.1 and a listener greeting as TiDB.
coproc CLIENT_SIDE { .venv/bin/python tests/lab/loopback_client_side.py 2>"$tmp/client-side.log"; }
client_side_pid=$CLIENT_SIDE_PID
read -r -t 30 dns_port tidb_port <&"${CLIENT_SIDE[0]}" || { echo "bench: the loopback DNS/TiDB did not start" >&2; cat "$tmp/client-side.log" >&2; exit 1; }

# The environment of every run: loopback only, dummy credentials.
clean_env=(env -u AWS_PROFILE -u AWS_REGION -u AWS_DEFAULT_REGION -u AWS_SESSION_TOKEN
    -u HTTP_PROXY -u HTTPS_PROXY -u http_proxy -u https_proxy -u TIDBPE_PAGE_SIZE
    AWS_ENDPOINT_URL="$endpoint" AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing
    AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null)

# doctor_once WORLD ENV… -- ARGS…: one run; prints "<wall ms> <calls> <rounds>".
doctor_once() {
    local world="$1"; shift
    local envs=()
    while [ "$1" != "--" ]; do envs+=("$1"); shift; done
    shift
    local service r0 r1 start end
    service="$(field "$world" service_name)"
    r0=$(lab_requests)
    start=$(now_ms)
    local probes=("${probe_flag[@]}")
    case " $* " in *" --probe "*) probes=() ;; esac
    "${clean_env[@]}" "${envs[@]}" "$bin" doctor --format json --timeout 60 \
        --service-name "$service" "${probes[@]}" "$@" > "$tmp/report.json" || true
    end=$(now_ms)
    r1=$(lab_requests)
    echo "$((end - start)) $((r1 - r0)) $(lab_rounds $((r0 + 1)))"
}

# The limit of the last run: its dependent rounds, read off its report.
last_limit() {
    python3 - "$tmp/report.json" <<'PY'
import json, sys
facts = json.load(open(sys.argv[1]))["facts"]
limit = 1
if (facts.get("vpc_choice") or {}).get("source") in ("unique-endpoint", "endpoint", "instance"):
    limit += 1
# Each of these follows a first-round call (they run side by side: +1 at most).
if any((facts.get(k) or {}).get("Ok") for k in ("prefix_lists", "resolver_rules", "hosted_zone_vpcs", "hosted_zone_records")):
    limit += 1
print(limit)
PY
}

# measure N RUNNER ARGS…: N pairs of runs, one at 0 ms and one at LATENCY,
# interleaved (a machine's load drifts: a pair sees the same); prints
# "<median wall at 0> <median wall at LATENCY> <median wall difference>
# <calls> <median rounds at LATENCY>" (rounds mean something only when
# answers take a while).
measure() {
    local n="$1"; shift
    local base=() slow=() diff=() rounds=() wall calls b r
    for _ in $(seq "$n"); do
        set_latency 0
        read -r b calls _ < <("$@")
        set_latency "$latency"
        read -r wall _ r < <("$@")
        base+=("$b"); slow+=("$wall"); diff+=($((wall - b))); rounds+=("$r")
    done
    set_latency 0
    echo "$(median "${base[@]}") $(median "${slow[@]}") $(median "${diff[@]}") $calls $(median "${rounds[@]}")"
}

# cli_sequence WORLD: the guide's reads with the AWS CLI, one after another,
# each ID read off an earlier answer as a user would.
cli_sequence() {
    local w="$1"
    local vpc instance service region
    vpc="$(field "$w" vpc_id)"; instance="$(field "$w" instance_id)"
    service="$(field "$w" service_name)"; region="$(field "$w" region)"
    aws() { "${clean_env[@]}" AWS_DEFAULT_REGION="$region" AWS_PAGER="" "$aws_cli" "$@" --output text; }
    aws sts get-caller-identity > /dev/null
    aws ec2 describe-vpc-endpoint-services --service-names "$service" > /dev/null
    aws ec2 describe-availability-zones > /dev/null
    aws ec2 describe-instances --instance-ids "$instance" > /dev/null
    local dhcp
    dhcp="$(aws ec2 describe-vpcs --vpc-ids "$vpc" --query 'Vpcs[0].DhcpOptionsId')"
    aws ec2 describe-vpc-attribute --vpc-id "$vpc" --attribute enableDnsSupport > /dev/null
    aws ec2 describe-vpc-attribute --vpc-id "$vpc" --attribute enableDnsHostnames > /dev/null
    aws ec2 describe-dhcp-options --dhcp-options-ids "$dhcp" > /dev/null
    aws route53 list-hosted-zones-by-vpc --vpc-id "$vpc" --vpc-region "$region" > /dev/null
    local enis
    enis="$(aws ec2 describe-vpc-endpoints --filters "Name=vpc-id,Values=$vpc" \
        --query "VpcEndpoints[?ServiceName=='$service'].NetworkInterfaceIds[]")"
    # shellcheck disable=SC2086 # one word per interface ID
    aws ec2 describe-network-interfaces --network-interface-ids $enis > /dev/null
    aws ec2 describe-subnets --filters "Name=vpc-id,Values=$vpc" > /dev/null
    local lists
    lists="$(aws ec2 describe-security-groups --filters "Name=vpc-id,Values=$vpc" \
        --query 'SecurityGroups[].IpPermissions[].PrefixListIds[].PrefixListId' | tr '\t' '\n' | sort -u)"
    for pl in $lists; do
        aws ec2 get-managed-prefix-list-entries --prefix-list-id "$pl" > /dev/null
    done
    aws ec2 describe-network-acls --filters "Name=vpc-id,Values=$vpc" > /dev/null
    local rules
    rules="$(aws route53resolver list-resolver-rule-associations --filters "Name=VPCId,Values=$vpc" \
        --query 'ResolverRuleAssociations[].ResolverRuleId')"
    for rule in $rules; do
        aws route53resolver get-resolver-rule --resolver-rule-id "$rule" > /dev/null
    done
}

# cli_once WORLD: one run of the sequence; prints "<wall ms> <calls> <rounds>".
cli_once() {
    local r0 r1 start end
    r0=$(lab_requests)
    start=$(now_ms)
    cli_sequence "$1"
    end=$(now_ms)
    r1=$(lab_requests)
    echo "$((end - start)) $((r1 - r0)) $(lab_rounds $((r0 + 1)))"
}

row() { printf '%-8s %-30s %5s %7s %8s %6s %6s %5s %6s %9s\n' "$@"; }
ratio() { python3 -c 'import sys; a,b=float(sys.argv[1]),float(sys.argv[2]); print(f"{a/b:.1f}" if b > 0 else "-")' "$1" "$2"; }
trips() { python3 -c 'import sys; print(f"{float(sys.argv[1]) / float(sys.argv[2]):.1f}")' "$1" "$latency"; }

echo "tidbpe: $bin ($("$bin" --version))"
echo "medians of $runs doctor runs and $cli_runs AWS CLI runs; latency injected: ${latency} ms a round trip"
echo
# Warm-up, not measured: moto builds each action's parser and serializer on
# its first call (hundreds of ms), and the first runs fill the page cache.
for world in healthy large; do
    cli_once "$world" > /dev/null
    doctor_once "$world" AWS_EC2_METADATA_DISABLED=true -- --vpc-id "$(field "$world" vpc_id)" \
        --instance-id "$(field "$world" instance_id)" > /dev/null
    doctor_once "$world" AWS_EC2_METADATA_DISABLED=true -- > /dev/null
done

row world mode calls "0 ms" "${latency} ms" trips rounds limit "/limit" "CLI/this"
doctor_0ms=""
for world in healthy large; do
    read -r cli0 cli_slow cli_diff cli_calls cli_rounds < <(measure "$cli_runs" cli_once "$world")
    modes=("--vpc-id --instance-id" "on the instance (IMDS)" "unique endpoint (no IMDS)" "--vpc-id --instance-id, probes")
    for mode in "${modes[@]}"; do
        case "$mode" in
        *probes) spec=(AWS_EC2_METADATA_DISABLED=true -- --vpc-id "$(field "$world" vpc_id)" --instance-id "$(field "$world" instance_id)"
            --probe --dns-server "127.0.0.1:$dns_port" --port "$tidb_port") ;;
        --vpc-id*) spec=(AWS_EC2_METADATA_DISABLED=true -- --vpc-id "$(field "$world" vpc_id)" --instance-id "$(field "$world" instance_id)") ;;
        on*) spec=(AWS_EC2_METADATA_SERVICE_ENDPOINT="$(field "$world" imds_url)" --) ;;
        *) spec=(AWS_EC2_METADATA_DISABLED=true --) ;;
        esac
        read -r base slow diff calls rounds < <(measure "$runs" doctor_once "$world" "${spec[@]}")
        limit=$(last_limit)
        t=$(trips "$diff")
        row "$world" "$mode" "$calls" "$base" "$slow" "$t" "$rounds" "$limit" "$(ratio "$rounds" "$limit")" \
            "$(ratio "$cli_slow" "$slow")"
        if [ -z "$doctor_0ms" ]; then doctor_0ms="$base"; fi
    done
    row "$world" "AWS CLI, the guide's reads" "$cli_calls" "$cli0" "$cli_slow" "$(trips "$cli_diff")" "$cli_rounds" - - -
done
set_latency 0
echo
echo "trips = median over pairs of (wall at ${latency} ms - wall at 0 ms) / ${latency} ms: AWS round trips waited in a row;"
echo "rounds = requests that waited for one another in a row, by the lab's clock at ${latency} ms (moto answers one request"
echo "         at a time: on a big world its work hides a round from the wall's count); /limit = rounds / limit;"
echo "limit = dependent rounds no run can avoid; CLI/this = the AWS CLI's wall time over this mode's, at ${latency} ms."
echo "probes off (--no-probe), except in the \"probes\" rows: --probe --dns-server and --port aimed at a DNS responder"
echo "         and a TiDB greeting on 127.0.0.1 (tests/lab/loopback_client_side.py); a probe watches each"
echo "         connection 250 ms after the greeting (does the server hang up?), so a run with probes lasts at least that."

# Start-up: the commands that need no AWS, beside doctor's run (0 ms, --vpc-id --instance-id).
echo
printf '%-22s %8s\n' command "median ms"
for cmd in "checks" "explain SG001" "iam-policy" "--help" "completions bash"; do
    walls=()
    for _ in $(seq $((runs * 4))); do
        start=$(now_ms)
        # shellcheck disable=SC2086 # the command's words
        "${clean_env[@]}" "$bin" $cmd > /dev/null
        end=$(now_ms)
        walls+=($((end - start)))
    done
    printf '%-22s %8s\n' "$cmd" "$(median "${walls[@]}")"
done
printf '%-22s %8s\n' "doctor (healthy, 0 ms)" "$doctor_0ms"
