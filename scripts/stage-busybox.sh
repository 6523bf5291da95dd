#!/usr/bin/env bash
# Stages the ci image's shell layer into a container build context, as container/Dockerfile
# expects it: CONTEXT/busybox-ARCH/ holds bin/busybox and one symlink to it per applet (what
# `busybox --install -s` would make inside the image, done here because the Dockerfile has no RUN
# step), and usr/local/bin/loadgate -> /loadgate so that `loadgate` is on the PATH of a shell.
#
#   scripts/stage-busybox.sh CONTEXT ARCH BUSYBOX [LISTER]
#
# BUSYBOX must be a static busybox (Debian's busybox-static) for ARCH (amd64 or arm64). LISTER is
# a busybox of the same version that runs on this machine, to list the applets when BUSYBOX is for
# another architecture (default: BUSYBOX itself).
set -euo pipefail

if [ $# -lt 3 ] || [ $# -gt 4 ]; then
  echo "usage: $0 CONTEXT ARCH BUSYBOX [LISTER]" >&2
  exit 2
fi
context="$1" arch="$2" busybox="$3" lister="${4:-$3}"
case "$arch" in
  amd64 | arm64) ;;
  *) echo "stage-busybox: ARCH must be amd64 or arm64, not '$arch'" >&2; exit 2 ;;
esac

# A dynamic busybox (Debian's `busybox` package) would fail in a scratch image with a bare
# "no such file or directory" from the kernel: refuse it here, where the reason can be said.
if command -v file >/dev/null 2>&1; then
  case "$(file -bL "$busybox")" in
    *"statically linked"* | *"static-pie linked"*) ;;
    *)
      echo "stage-busybox: $busybox is not statically linked (install busybox-static)" >&2
      exit 1
      ;;
  esac
fi

applets="$("$lister" --list-full)"
[ -n "$applets" ] || { echo "stage-busybox: $lister listed no applets" >&2; exit 1; }

root="$context/busybox-$arch"
rm -rf "$root"
mkdir -p "$root/bin" "$root/usr/local/bin"
install -m 0755 "$busybox" "$root/bin/busybox"
count=0
while IFS= read -r applet; do
  # Relative paths below the root only (bin/sh, usr/bin/head, ...); never replace busybox itself.
  case "$applet" in
    "" | /* | *..* | bin/busybox) continue ;;
  esac
  mkdir -p "$root/$(dirname "$applet")"
  ln -sfn /bin/busybox "$root/$applet"
  count=$((count + 1))
done <<<"$applets"
ln -sfn /loadgate "$root/usr/local/bin/loadgate"
echo "stage-busybox: $root: busybox and $count applet links"
