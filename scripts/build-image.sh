#!/bin/sh
# Builds the `roost:local` Docker image: a static roost binary in an image FROM
# scratch (no base image can be pulled on our machines).
#   scripts/build-image.sh            release build
#   scripts/build-image.sh debug      debug build (faster to compile; the tests use it)
set -eu
cd "$(dirname "$0")/.."
profile="${1:-release}"
target=x86_64-unknown-linux-gnu
if [ "$profile" = release ]; then flag=--release; else flag=; fi
# crt-static links glibc statically; --target keeps the flag off build scripts
# and proc macros, which must stay dynamic.
RUSTFLAGS="${RUSTFLAGS:-} -C target-feature=+crt-static" \
    cargo build $flag --target "$target" -p roost --bin roost
bin="target/$target/$profile/roost"
# Docker's build context is this checkout: a binary built under another
# CARGO_TARGET_DIR is copied to where the Dockerfile takes it from.
built="${CARGO_TARGET_DIR:-target}/$target/$profile/roost"
if [ "$built" != "$bin" ]; then
    mkdir -p "$(dirname "$bin")"
    cp "$built" "$bin"
fi
if ldd "$bin" 2>&1 | grep -q "=>"; then
    echo "build-image: $bin is not static" >&2
    exit 1
fi
docker build --quiet --build-arg "BIN=$bin" -t roost:local .
