#!/usr/bin/env bash
# Prepare the lab's Python environment: <repo>/.venv with the pinned packages
# of requirements.txt (moto, jsonschema, the AWS CLI).
# Idempotent: does nothing (and prints nothing) when the venv was set up from
# the same requirements.txt and still imports them; installs again whenever
# requirements.txt changes. Exit status non-zero on any failure.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
venv="$root/.venv"
req="$here/requirements.txt"
stamp="$venv/.lab-requirements.sha256"

# The pinned version, e.g. "5.2.5" from "moto[server]==5.2.5".
want="$(sed -n 's/^moto\(\[[^]]*\]\)\{0,1\}==\([^[:space:]#]*\).*/\2/p' "$req" | head -n1)"
if [ -z "$want" ]; then
    echo "setup.sh: no pinned moto version in $req" >&2
    exit 1
fi
sum="$(sha256sum "$req" | cut -d' ' -f1)"

ready() {
    [ -x "$venv/bin/python" ] && [ -x "$venv/bin/aws" ] \
        && [ "$(cat "$stamp" 2>/dev/null)" = "$sum" ] \
        && [ "$("$venv/bin/python" -c 'from importlib.metadata import version as v; [v(p) for p in ("boto3", "werkzeug", "flask", "jsonschema", "awscli")]; print(v("moto"))' 2>/dev/null)" = "$want" ]
}
if ready; then
    exit 0
fi

python="${PYTHON:-python3}"
if [ ! -x "$venv/bin/python" ]; then
    echo "setup.sh: creating $venv with $("$python" --version 2>&1)"
    "$python" -m venv "$venv"
fi
echo "setup.sh: installing $req into $venv"
rm -f "$stamp"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$req"

have="$("$venv/bin/python" -c 'from importlib.metadata import version; print(version("moto"))')"
if [ "$have" != "$want" ]; then
    echo "setup.sh: moto is $have after install, expected $want" >&2
    exit 1
fi
echo "$sum" > "$stamp"
ready || { echo "setup.sh: $venv is incomplete after installing $req" >&2; exit 1; }
echo "setup.sh: ready (moto $have, $("$venv/bin/aws" --version 2>&1 | cut -d' ' -f1))"
