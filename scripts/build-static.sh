#!/usr/bin/env bash
# The static Linux binary: x86_64 musl, TLS through rustls with ring (the one crate here that
# compiles C, hence musl-gcc from Debian's musl-tools). musl rather than glibc's crt-static because
# glibc resolves names through NSS modules that a scratch image does not have; musl's resolver is
# built in. The aarch64 build is the release workflow's (cargo-zigbuild there).
#
# Prints the binary's path and size, and stages the container build context in target/image/:
#   loadgate-amd64          this binary without its debug sections (named by Docker's TARGETARCH, as
#                           container/Dockerfile expects)
#   ca-certificates.crt     the vendored CA bundle (container/ca-certificates.crt, Debian's, also
#                           embedded in the binary for `loadgate image push`), so the Dockerfile's
#                           image and the self-pushed one carry the same roots
#   tmp/                    an empty directory, mode 1777: the image's /tmp
# Installs what is missing (the rustup target; musl-tools, file and binutils with
# apt-get as root).
#
# The release profile keeps line tables (profiling, backtraces with lines): 103 MiB here, 23 MiB
# stripped of them and of the symbol table, which is what the image gets (as the release workflow's
# binary, which pushes itself as the worker image: budget 25 MB). target/ keeps the full binary:
# the tests and the benchmark use that one build.
set -euo pipefail
cd "$(dirname "$0")/.."

target=x86_64-unknown-linux-musl
bin="target/$target/release/loadgate"
context=target/image
bundle=container/ca-certificates.crt

if ! rustup target list --installed | grep -qx "$target"; then
  rustup target add "$target"
fi

need=()
command -v musl-gcc >/dev/null 2>&1 || need+=(musl-tools)
command -v file >/dev/null 2>&1 || need+=(file)
command -v strip >/dev/null 2>&1 || need+=(binutils)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "build-static: installing ${need[*]}" >&2
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  else
    echo "build-static: missing ${need[*]} (e.g. sudo apt-get install ${need[*]})" >&2
    exit 1
  fi
fi

start=$(date +%s)
cargo build --release --locked --quiet --target "$target"
echo "build-static: cargo build took $(( $(date +%s) - start ))s" >&2

# Both tools must agree: `file` reads the ELF header, ldd asks the dynamic loader.
description="$(file -b "$bin")"
case "$description" in
  *"static-pie linked"* | *"statically linked"*) ;;
  *) echo "build-static: $bin is not static: $description" >&2; exit 1 ;;
esac
# glibc's ldd says "not a dynamic executable" (exit 1) for a static binary and "statically
# linked" for a static-pie one; any "=>" line would be a shared library.
ldd_out="$(ldd "$bin" 2>&1 || true)"
case "$ldd_out" in
  *"=>"*) echo "build-static: ldd lists libraries for $bin:" >&2; echo "$ldd_out" >&2; exit 1 ;;
  *"not a dynamic executable"* | *"statically linked"*) ;;
  *) echo "build-static: unexpected ldd answer for $bin: $ldd_out" >&2; exit 1 ;;
esac

mkdir -p "$context/tmp"
chmod 1777 "$context/tmp"
strip --strip-all -o "$context/loadgate-amd64" "$bin"
cp "$bundle" "$context/ca-certificates.crt"

mib() { echo "$(( ($1 + 524288) / 1048576 )) MiB"; }
size=$(stat -c %s "$bin")
stripped=$(stat -c %s "$context/loadgate-amd64")
echo "build-static: $bin is static ($description)"
echo "build-static: $size bytes ($(mib "$size")); stripped $stripped bytes" \
  "($(mib "$stripped")), staged with the CA bundle in $context/"
