#!/usr/bin/env bash
# Installs a loadgate release binary for this machine's OS and CPU, after checking its sha256
# against the release's sha256sums.txt. Used by the GitHub Action; works on any CI or laptop.
#
#   scripts/install.sh [VERSION]        VERSION defaults to the VERSION file beside scripts/
#
# Environment:
#   LOADGATE_REPOSITORY     owner/name of the GitHub repository with the releases
#   LOADGATE_DOWNLOAD_URL   base URL of the releases (default https://github.com/$REPO/releases/download);
#                           assets are fetched from $LOADGATE_DOWNLOAD_URL/v$VERSION/
#   LOADGATE_INSTALL_DIR    where the binary goes (default: the runner's tool cache, else
#                           ~/.local/share/loadgate/$VERSION)
#   RUNNER_TOOL_CACHE       GitHub's tool cache: $RUNNER_TOOL_CACHE/loadgate/$VERSION/$ARCH, reused
#                           when complete, as @actions/tool-cache lays it out
#   GITHUB_PATH             when set, the install directory is added to the job's PATH
#
# Prints the path of the installed binary on stdout.
set -euo pipefail

say() { echo "install.sh: $*" >&2; }
die() { say "$*"; exit 1; }

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
version="${1:-${LOADGATE_VERSION:-}}"
if [ -z "$version" ]; then
  [ -r "$root/VERSION" ] || die "no version given and no VERSION file in $root"
  version="$(tr -d '[:space:]' < "$root/VERSION")"
fi
version="${version#v}"
case "$version" in
  *[!0-9A-Za-z.+-]* | "") die "invalid version: '$version'" ;;
esac

os="${LOADGATE_OS:-$(uname -s)}"
arch="${LOADGATE_ARCH:-$(uname -m)}"
case "$arch" in
  x86_64 | amd64 | X64) arch=x86_64 ;;
  aarch64 | arm64 | ARM64) arch=aarch64 ;;
  *) die "no loadgate release for CPU '$arch' (x86_64 and aarch64 are built)" ;;
esac
case "$os" in
  Linux) target="$arch-unknown-linux-musl" ;;
  Darwin) target="$arch-apple-darwin" ;;
  *) die "no loadgate release for OS '$os' (Linux and macOS are built); on Windows, use WSL or the container image" ;;
esac

repo="${LOADGATE_REPOSITORY:-loadgate/loadgate}"
base="${LOADGATE_DOWNLOAD_URL:-https://github.com/$repo/releases/download}"
base="${base%/}/v$version"
asset="loadgate-$target.tar.gz"

if [ -n "${LOADGATE_INSTALL_DIR:-}" ]; then
  dir="$LOADGATE_INSTALL_DIR"
  complete="$dir/.complete"
elif [ -n "${RUNNER_TOOL_CACHE:-}" ]; then
  dir="$RUNNER_TOOL_CACHE/loadgate/$version/$arch"
  complete="$dir.complete"
else
  dir="${XDG_DATA_HOME:-$HOME/.local/share}/loadgate/$version"
  complete="$dir/.complete"
fi

add_to_path() {
  if [ -n "${GITHUB_PATH:-}" ]; then
    echo "$dir" >> "$GITHUB_PATH"
  fi
  echo "$dir/loadgate"
}

if [ -f "$complete" ] && [ -x "$dir/loadgate" ]; then
  say "loadgate $version ($target) from the cache: $dir"
  add_to_path
  exit 0
fi

fetch() { # URL FILE
  if command -v curl >/dev/null 2>&1; then
    curl --fail --silent --show-error --location --retry 3 --connect-timeout 20 -o "$2" "$1"
  elif command -v wget >/dev/null 2>&1; then
    wget --quiet --tries=3 --timeout=20 -O "$2" "$1"
  else
    die "neither curl nor wget is installed"
  fi
}

sha256_of() {
  if command -v sha256sum >/dev/null 2>&1; then
    sha256sum "$1" | cut -d' ' -f1
  elif command -v shasum >/dev/null 2>&1; then
    shasum -a 256 "$1" | cut -d' ' -f1
  else
    die "neither sha256sum nor shasum is installed: cannot verify the download"
  fi
}

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

say "downloading loadgate $version ($target) from $base"
fetch "$base/sha256sums.txt" "$tmp/sha256sums.txt" || die "cannot download $base/sha256sums.txt"
fetch "$base/$asset" "$tmp/$asset" || die "cannot download $base/$asset"

expected="$(awk -v f="$asset" '{ name = $2; sub(/^\*/, "", name) } name == f { print $1; exit }' "$tmp/sha256sums.txt")"
[ -n "$expected" ] || die "sha256sums.txt has no line for $asset"
actual="$(sha256_of "$tmp/$asset")"
if [ "$actual" != "$expected" ]; then
  die "checksum mismatch for $asset: expected $expected, got $actual; refusing to install it"
fi

mkdir -p "$tmp/unpacked"
tar -xzf "$tmp/$asset" -C "$tmp/unpacked"
binary="$(find "$tmp/unpacked" -type f -name loadgate | head -n 1)"
[ -n "$binary" ] || die "$asset holds no loadgate binary"

mkdir -p "$dir"
install -m 0755 "$binary" "$dir/loadgate.partial"
mv -f "$dir/loadgate.partial" "$dir/loadgate"
touch "$complete"
say "installed loadgate $version ($target) in $dir"
add_to_path
