#!/usr/bin/env bash
# The lab demo: start moto with a simulated VPC, pretend to be its client
# instance (the lab serves IMDSv2 on loopback), and run `tidbpe doctor`
# against it as a user would on EC2.
#
#   scripts/demo.sh [SCENARIO]   a world of tests/lab/lab.py (default: dns-hostnames-off,
#                                DNS hostnames off); the AWS side only (--no-probe)
#   scripts/demo.sh probes       the live probes (root): the healthy world, the doctor run
#                                inside a network namespace as its client instance, whose
#                                /etc/hosts pins an old address and whose second endpoint
#                                address drops port 4000 (a host firewall): DNS003 and
#                                NET001 fail while the whole AWS side passes
#
# Nothing leaves this machine: AWS is moto on 127.0.0.1, credentials are
# dummies, and the endpoint's addresses exist only in the demo's namespaces.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
scenario="${1:-dns-hostnames-off}"
probes=false
if [ "$scenario" = probes ]; then
    probes=true
    scenario=healthy
    if [ "$(id -u)" != 0 ]; then
        echo "demo: the probes demo needs root (network namespaces, iptables)" >&2
        exit 2
    fi
fi

tests/lab/setup.sh
echo "demo: building tidbpe (the first build compiles the AWS SDK: several minutes)…" >&2
cargo build --quiet

# The lab serves until its stdin closes: keep a pipe open, close it on exit.
coproc LAB { .venv/bin/python tests/lab/lab.py --scenario "$scenario" --imds 2>/dev/null; }
lab_pid=$LAB_PID
netns_pid=""
state="$(mktemp -d)"
cleanup() {
    exec {LAB[1]}>&- 2>/dev/null || true
    [ -n "$netns_pid" ] && { exec 7>&- 2>/dev/null || true; wait "$netns_pid" 2>/dev/null || true; }
    kill "$lab_pid" 2>/dev/null || true
    wait "$lab_pid" 2>/dev/null || true
    rm -rf "$state"
}
trap cleanup EXIT
read -r -t 120 info <&"${LAB[0]}" || { echo "demo: the lab did not start" >&2; exit 1; }
field() { python3 -c 'import json,sys; v=json.loads(sys.argv[1]); [v := v[int(k) if k.isdigit() else k] for k in sys.argv[2:]]; print(v)' "$info" "$@"; }
port() { python3 -c 'import sys,urllib.parse; print(urllib.parse.urlparse(sys.argv[1]).port)' "$1"; }
service="$(field service_name)"
echo "demo: lab ready: scenario $scenario, moto at $(field endpoint_url), instance $(field instance_id) in $(field vpc_id)" >&2

run=("${CARGO_TARGET_DIR:-target}/debug/tidbpe" doctor --service-name "$service")
if $probes; then
    # The network side: the client namespace (its own resolv.conf and hosts)
    # and the VPC namespace holding the endpoint's addresses as moto gave them.
    mkfifo "$state/in"
    python3 tests/lab/netns.py up --name "tpdemo$$" --host "$(field host)" \
        --client-ip "$(field client_ip)" \
        --endpoint "$(field endpoint_ips 0):tidb" --endpoint "$(field endpoint_ips 1):drop" \
        --pin 10.0.99.9 \
        --forward "$(port "$(field endpoint_url)")" --forward "$(port "$(field imds_url)")" \
        < "$state/in" > "$state/out" 2> "$state/log" &
    netns_pid=$!
    exec 7> "$state/in"
    for _ in $(seq 200); do [ -s "$state/out" ] && break; sleep 0.1; done
    [ -s "$state/out" ] || { echo "demo: the namespaces did not come up: $(cat "$state/log")" >&2; exit 1; }
    client_ns="tpdemo$$-c"
    echo "demo: client namespace $client_ns: /etc/hosts pins $(field host) to 10.0.99.9;" \
         "$(field endpoint_ips 1) drops port 4000" >&2
    run=(ip netns exec "$client_ns" "${run[@]}" --timeout 4)
else
    # Outside a namespace "the instance" is this machine: its own resolver
    # must not be asked for the host.
    run+=(--no-probe)
fi
echo "demo: \$ ${run[*]}" >&2
echo >&2

set +e
env -u AWS_PROFILE -u AWS_REGION -u AWS_DEFAULT_REGION -u AWS_SESSION_TOKEN \
    AWS_ENDPOINT_URL="$(field endpoint_url)" \
    AWS_EC2_METADATA_SERVICE_ENDPOINT="$(field imds_url)" \
    AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing \
    AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null \
    "${run[@]}"
code=$?
set -e
echo >&2
echo "demo: tidbpe exited with $code (0 healthy, 1 broken, 3 incomplete)" >&2
