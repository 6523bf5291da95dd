#!/usr/bin/env bash
# Project-local lint and test tools, installed once into target/tools and reused afterwards.
#
#   scripts/tools.sh python PKG...   ensure the one venv (target/tools/venv) has these PyPI packages
#   scripts/tools.sh npm PKG...      ensure target/tools/node_modules has these npm packages
#
# Prints nothing when everything is already there, so a warm lint step costs a few stat calls.
# Source it to get the functions, or run it with a subcommand.
set -euo pipefail

tools_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/target/tools"
venv="$tools_dir/venv"

# A requirement's distribution name, for the "already installed" check: `moto[server]>=5` -> moto.
dist_name() {
  local name="${1%%[*}"
  name="${name%%[<>=!~ ]*}"
  echo "$name"
}

ensure_python() {
  if [ ! -x "$venv/bin/python" ]; then
    echo "tools: creating $venv" >&2
    python3 -m venv "$venv"
  fi
  local missing=() req
  for req in "$@"; do
    # pip's own metadata lookup is slow; a dist-info directory is enough to know it is there.
    local name
    name="$(dist_name "$req" | tr '[:upper:]-' '[:lower:]_')"
    if ! compgen -G "$venv/lib/python*/site-packages/${name}-*.dist-info" >/dev/null \
      && ! compgen -G "$venv/lib/python*/site-packages/$(dist_name "$req" | tr '-' '_')-*.dist-info" >/dev/null; then
      missing+=("$req")
    fi
  done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "tools: pip install ${missing[*]}" >&2
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "${missing[@]}"
  fi
}

ensure_npm() {
  local missing=() pkg
  for pkg in "$@"; do
    [ -d "$tools_dir/node_modules/${pkg%@*}" ] || missing+=("$pkg")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    command -v npm >/dev/null 2>&1 || { echo "tools: npm is needed for ${missing[*]} (apt-get install nodejs npm)" >&2; return 1; }
    echo "tools: npm install ${missing[*]}" >&2
    mkdir -p "$tools_dir"
    npm install --silent --no-audit --no-fund --prefix "$tools_dir" "${missing[@]}" >/dev/null
  fi
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  case "${1:-}" in
    python) shift; ensure_python "$@" ;;
    npm) shift; ensure_npm "$@" ;;
    *) echo "usage: $0 python|npm PKG..." >&2; exit 2 ;;
  esac
fi
