#!/usr/bin/env bash
# A release binary that runs on the client's EC2 instance: linked against
# glibc 2.17 (Amazon Linux 2, RHEL 7/8, Ubuntu 18.04+ all have newer), stripped.
#
#   scripts/dist.sh            # x86_64 (default)
#   scripts/dist.sh aarch64    # Graviton: needs the aarch64 standard library
#
# Uses cargo-zigbuild (crates.io) with the zig toolchain from PyPI's
# `ziglang`, both pinned and installed on first use. Prints the newest GLIBC
# symbol version the binary needs and its size; fails if it needs more than
# glibc 2.17. The binary lands in dist/.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

ZIGLANG_VERSION=0.17.1
ZIGBUILD_VERSION=0.24.1
GLIBC=2.17

arch="${1:-x86_64}"
case "$arch" in
    x86_64 | aarch64) ;;
    *)
        echo "dist.sh: unknown architecture '$arch' (expected x86_64 or aarch64)" >&2
        exit 2
        ;;
esac
target="$arch-unknown-linux-gnu"

if ! rustup target list --installed 2>/dev/null | grep -qx "$target"; then
    echo "dist.sh: the Rust standard library for $target is not installed." >&2
    echo "         Run 'rustup target add $target' on a machine that can download it, then run this again." >&2
    exit 1
fi

venv=".dist/venv"
if ! "$venv/bin/python" -c "import ziglang" 2>/dev/null; then
    echo "dist.sh: installing ziglang==$ZIGLANG_VERSION into $venv"
    python3 -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "ziglang==$ZIGLANG_VERSION"
fi
if [ "$(cargo-zigbuild --version 2>/dev/null | awk '{print $2}')" != "$ZIGBUILD_VERSION" ]; then
    echo "dist.sh: installing cargo-zigbuild $ZIGBUILD_VERSION"
    cargo install --locked --quiet cargo-zigbuild --version "$ZIGBUILD_VERSION"
fi

# cargo-zigbuild finds zig through `python3 -m ziglang`: put the venv first.
export PATH="$PWD/$venv/bin:$PATH"
export CARGO_TARGET_DIR="${DIST_TARGET_DIR:-$PWD/target/dist}"
export CARGO_PROFILE_RELEASE_STRIP=symbols
cargo zigbuild --locked --release --target "$target.$GLIBC"

bin="$CARGO_TARGET_DIR/$target/release/tidbpe"
newest="$(objdump -T "$bin" | grep -o 'GLIBC_[0-9][0-9.]*' | sed 's/GLIBC_//' | sort -uV | tail -n1)"
version="$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n1)"
mkdir -p dist
out="dist/tidbpe-$version-$target"
cp "$bin" "$out"
size="$(stat -c %s "$out")"
echo "dist.sh: $out"
echo "dist.sh: newest GLIBC symbol needed: $newest (limit $GLIBC)"
echo "dist.sh: size: $((size / 1024 / 1024)) MB ($size bytes)"
if [ "$(printf '%s\n%s\n' "$newest" "$GLIBC" | sort -V | tail -n1)" != "$GLIBC" ]; then
    echo "dist.sh: $out needs glibc $newest, newer than $GLIBC" >&2
    exit 1
fi
