#!/usr/bin/env bash
# Fuzzes loadgate's parsers of hostile input (fuzz/fuzz_targets/): the scenario loader, the
# threshold parser, the HTTP/1.1 response parser, the results.json reader, the histogram decoder
# and the `{{ }}` template parser.
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]   each target for SECONDS (default 60), all by default
#
# Each target starts from its checked-in seed corpus (fuzz/corpus/TARGET); what it finds on the
# way stays in target/fuzz/corpus/TARGET, and a crash is saved to target/fuzz/artifacts/TARGET/
# (rerun one with `target/fuzz/build/<host>/release/TARGET FILE`). Prints the executions per
# target and fails when any target crashed.
#
# Builds with the nightly toolchain and cargo-fuzz's libFuzzer instrumentation, passed to cargo
# directly, so `cargo install cargo-fuzz` is not needed (`cargo +nightly fuzz run TARGET` in
# fuzz/ works the same where it is installed). The build links loadgate without its `app`
# feature: no AWS SDKs. FUZZ_SANITIZER=address adds AddressSanitizer (slower; the code under test
# is safe Rust, so panics, overflows, hangs and unbounded allocations are what is looked for).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
seconds="${1:-60}"
[ $# -gt 0 ] && shift
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  targets=(scenario threshold http1_response results histogram template)
fi

# libFuzzer's instrumentation needs nightly: install it where rustup can (a new user's machine).
if ! rustc +nightly -V >/dev/null 2>&1; then
  echo "fuzz: installing rustup's nightly toolchain (minimal profile)" >&2
  rustup toolchain install nightly --profile minimal
fi
host="$(rustc +nightly -vV | sed -n 's/^host: //p')"
flags="-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4"
flags+=" -Cllvm-args=-sanitizer-coverage-inline-8bit-counters"
flags+=" -Cllvm-args=-sanitizer-coverage-pc-table -Cllvm-args=-sanitizer-coverage-trace-compares"
flags+=" --cfg fuzzing -Cdebug-assertions -Coverflow-checks"
if [ "${FUZZ_SANITIZER:-}" = address ]; then
  flags+=" -Zsanitizer=address"
fi
work="$root/target/fuzz"
# `--target` keeps the instrumentation off build scripts and proc macros, as cargo-fuzz does.
# The lock: the machine's cores are shared, and only one compile runs at a time.
RUSTFLAGS="$flags" CARGO_TARGET_DIR="$work/build" flock /tmp/loadgate-cargo.lock \
  cargo +nightly build --locked --release --manifest-path fuzz/Cargo.toml --target "$host" --bins

total=0
failed=()
for t in "${targets[@]}"; do
  corpus="$work/corpus/$t"
  artifacts="$work/artifacts/$t/"
  mkdir -p "$corpus" "$artifacts"
  log="$work/$t.log"
  status=0
  # -rss_limit_mb: an input that makes the parser allocate without bound is a crash too.
  "$work/build/$host/release/$t" "$corpus" "fuzz/corpus/$t" \
    -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
    -artifact_prefix="$artifacts" -print_final_stats=1 >"$log" 2>&1 || status=$?
  runs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)"
  runs="${runs:-0}"
  total=$((total + runs))
  if [ "$status" -ne 0 ]; then
    failed+=("$t")
    echo "fuzz: $t CRASHED after $runs executions (exit $status); input in $artifacts" >&2
    grep -m 20 -E "panicked|ERROR|SUMMARY|Test unit written" "$log" >&2 || true
  else
    echo "fuzz: $t: $runs executions in ${seconds}s, corpus $(find "$corpus" -type f | wc -l) inputs"
  fi
done
echo "fuzz: $total executions in total"
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: crashed: ${failed[*]}" >&2
  exit 1
fi
