#!/usr/bin/env bash
# Prepare the lab's Python environment: <repo>/.venv with the pinned moto.
# Idempotent: does nothing (and prints nothing) when the venv already has the
# pinned moto. Exit status non-zero on any failure.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
venv="$root/.venv"
req="$here/requirements.txt"

# The pinned version, e.g. "5.2.5" from "moto[server]==5.2.5".
want="$(sed -n 's/^moto\(\[[^]]*\]\)\{0,1\}==\([^[:space:]#]*\).*/\2/p' "$req" | head -n1)"
if [ -z "$want" ]; then
    echo "setup.sh: no pinned moto version in $req" >&2
    exit 1
fi

have=""
if [ -x "$venv/bin/python" ]; then
    have="$("$venv/bin/python" -c 'import moto, boto3, werkzeug, flask; print(moto.__version__)' 2>/dev/null || true)"
fi
if [ "$have" = "$want" ]; then
    exit 0
fi

python="${PYTHON:-python3}"
if [ ! -x "$venv/bin/python" ]; then
    echo "setup.sh: creating $venv with $("$python" --version 2>&1)"
    "$python" -m venv "$venv"
fi
echo "setup.sh: installing $req into $venv (moto ${have:-missing} -> $want)"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$req"

have="$("$venv/bin/python" -c 'import moto; print(moto.__version__)')"
if [ "$have" != "$want" ]; then
    echo "setup.sh: moto is $have after install, expected $want" >&2
    exit 1
fi
echo "setup.sh: ready (moto $have)"
