#!/usr/bin/env bash
# Project-local lint and test tools, installed once into target/tools and reused afterwards.
#
#   scripts/tools.sh python REQ...   ensure the one venv (target/tools/venv) has these PyPI packages
#                                    (`name` or `name==version`; moto[server], cfn-lint... all go here)
#   scripts/tools.sh npm PKG...      ensure target/tools/node_modules has these npm packages
#                                    (`name` or `name@version`)
#
# Prints nothing when everything is already there, so a warm lint step costs a few stat calls.
# Source it to get the functions, or run it with a subcommand.
set -euo pipefail

tools_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/target/tools"
venv="$tools_dir/venv"

# Whether the venv already has requirement $1 (`name` or `name==version`; extras ignored). A
# dist-info directory is enough to know, and far faster than asking pip.
python_has() {
  local req="$1" name version=""
  name="${req%%[[<>=!~ ]*}"
  case "$req" in *==*) version="${req##*==}" ;; esac
  # Wheels name the directory with underscores and, mostly, the project's own capitalisation.
  name="$(echo "$name" | tr '-' '_')"
  local pattern
  for pattern in "$name" "$(echo "$name" | tr '[:upper:]' '[:lower:]')"; do
    if compgen -G "$venv/lib/python*/site-packages/${pattern}-${version:-*}.dist-info" >/dev/null; then
      return 0
    fi
  done
  return 1
}

ensure_python() {
  if [ ! -x "$venv/bin/python" ]; then
    echo "tools: creating $venv" >&2
    python3 -m venv "$venv"
  fi
  local missing=() req
  for req in "$@"; do
    python_has "$req" || missing+=("$req")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "tools: pip install ${missing[*]}" >&2
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "${missing[@]}"
  fi
}

ensure_npm() {
  local missing=() pkg
  for pkg in "$@"; do
    local name="${pkg%@*}" version="${pkg##*@}"
    [ "$name" = "$pkg" ] && version=""
    if [ -z "$version" ]; then
      [ -d "$tools_dir/node_modules/$name" ] || missing+=("$pkg")
    else
      grep -qs "\"version\": \"$version\"" "$tools_dir/node_modules/$name/package.json" \
        || missing+=("$pkg")
    fi
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
