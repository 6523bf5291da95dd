#!/usr/bin/env bash
# Builds both images of container/Dockerfile with buildah (no Docker daemon, no registry, no
# network: FROM scratch), runs loadgate inside each, checks their configuration and the CA bundle,
# and prints their sizes. Installs what is missing (buildah, busybox-static, python3; the musl
# toolchain is scripts/build-static.sh's) with apt-get as root.
#
#   scripts/image.sh            build, check, then remove the images and containers it made
#   LOADGATE_KEEP_IMAGES=1 scripts/image.sh     keep localhost/loadgate:test and :test-ci
#
# buildah runs with the vfs storage driver and chroot isolation: both work without overlayfs,
# user namespaces or a container runtime, which a CI machine (or a container) may not offer.
#
# What the CA check proves: the image's SSL_CERT_FILE names a file that is in the image and that
# OpenSSL parses as a bundle of CA certificates, and a shell in the ci image reads it as the image's
# user. What it does not: a TLS handshake from inside the image against a server that only those
# roots trust (the only network here is loopback, and no local server holds a certificate under
# a public root); that rustls-native-certs reads SSL_CERT_FILE is its documented behaviour.
set -euo pipefail
cd "$(dirname "$0")/.."

context=target/image
worker=localhost/loadgate:test
ci=localhost/loadgate:test-ci
bundle=/etc/ssl/certs/ca-certificates.crt
# The worker image's size budget: Fargate pulls it at the start of every task. 32 MiB since
# session 3 (was 25): the bounded DNS resolver, the realistic-users engine and several regions
# took the stripped binary from 24 to 28 MiB; about 12 MB compressed is what a task pulls.
worker_budget=$((32 * 1024 * 1024))

need=()
command -v buildah >/dev/null 2>&1 || need+=(buildah)
# Debian's busybox-static and busybox both install /bin/busybox; only the static one works in a
# scratch image, and stage-busybox.sh refuses the other.
dpkg-query -W -f='${Status}' busybox-static 2>/dev/null | grep -q "ok installed" \
  || need+=(busybox-static)
command -v python3 >/dev/null 2>&1 || need+=(python3)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "image: installing ${need[*]}" >&2
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  else
    echo "image: missing ${need[*]} (e.g. sudo apt-get install ${need[*]})" >&2
    exit 1
  fi
fi

bh() { buildah --storage-driver vfs "$@"; }
mib() { echo "$(( ($1 + 524288) / 1048576 )) MiB"; }

containers=()
cleanup() {
  local c
  for c in "${containers[@]}"; do
    bh rm "$c" >/dev/null 2>&1 || true
  done
  if [ "${LOADGATE_KEEP_IMAGES:-}" != 1 ]; then
    bh rmi "$worker" "$ci" >/dev/null 2>&1 || true
  fi
  rm -rf "$work"
}
work="$(mktemp -d)"
trap cleanup EXIT

fail() {
  echo "image: FAILED: $*" >&2
  exit 1
}

scripts/build-static.sh
scripts/stage-busybox.sh "$context" amd64 /bin/busybox

version="$(tr -d '[:space:]' <VERSION)"
revision="$(git rev-parse HEAD 2>/dev/null || echo unknown)"

build() {
  local target="$1" tag="$2" start
  start=$(date +%s)
  # TARGETARCH by hand: the context holds amd64 only, and buildah 1.28 warns when it is not given.
  bh bud --isolation chroot --quiet -f container/Dockerfile --target "$target" \
    --build-arg TARGETARCH=amd64 --build-arg VERSION="$version" --build-arg REVISION="$revision" \
    -t "$tag" "$context" >/dev/null
  echo "image: built $tag (target $target) in $(( $(date +%s) - start ))s"
}
build worker "$worker"
build ci "$ci"

# The configuration the runtimes act on: Fargate starts the entrypoint, GitLab and Jenkins pass
# their own command and need an empty one.
config() { bh inspect --type image --format "$2" "$1"; }
expect() {
  local what="$1" got="$2" want="$3"
  [ "$got" = "$want" ] || fail "$what: got '$got', want '$want'"
}
for image in "$worker" "$ci"; do
  expect "$image user" "$(config "$image" '{{.OCIv1.Config.User}}')" "65532:65532"
  config "$image" '{{range .OCIv1.Config.Env}}{{println .}}{{end}}' \
    | grep -qx "SSL_CERT_FILE=$bundle" || fail "$image: SSL_CERT_FILE is not $bundle"
  label="$(config "$image" '{{index .OCIv1.Config.Labels "org.opencontainers.image.version"}}')"
  expect "$image version label" "$label" "$version"
done
# buildah's templates have no `json`: Go prints the lists as [a b].
expect "$worker entrypoint" "$(config "$worker" '{{.OCIv1.Config.Entrypoint}}')" "[/loadgate]"
expect "$ci entrypoint" "$(config "$ci" '{{.OCIv1.Config.Entrypoint}}')" "[]"

# A fresh container of an image in $ctr (not in a subshell: the cleanup must know it). Commands run
# in it with `run`, as the image's user.
fresh() {
  ctr="$(bh from --quiet "$1")"
  containers+=("$ctr")
}
run() { bh run --isolation chroot "$ctr" -- "$@"; }

for image in "$worker" "$ci"; do
  fresh "$image"
  out="$(run /loadgate --version)" || fail "$image: loadgate --version"
  case "$out" in
    *"$version"*) printf 'image: %s: %s; demo: ' "$image" "$out" ;;
    *) fail "$image: loadgate --version said '$out', want $version" ;;
  esac
  # The demo's target listens on 127.0.0.1 in the same process: no network beyond loopback. Exit 1
  # (a latency threshold failed on a busy machine) is a verdict, not a broken image; 2, 3 or a
  # signal are. The reports it wrote prove /tmp is writable by the image's user.
  status=0
  run /loadgate demo --hold-for 1s --out /tmp/demo >"$work/demo.log" 2>&1 || status=$?
  if [ "$status" -gt 1 ]; then
    tail -n 20 "$work/demo.log" >&2
    fail "$image: loadgate demo exited $status"
  fi
  python3 - "$(bh mount "$ctr")/tmp/demo/results.json" <<'EOF' || fail "$image: no demo results"
import json, sys
results = json.load(open(sys.argv[1]))
total = results["total"]
if total["requests"] == 0:
    sys.exit("the demo sent no request")
print(f"{total['requests']} requests, {total['errors']} errors, passed: {results['passed']}")
EOF
  bh umount "$ctr" >/dev/null
done

# The ci image as GitLab and Jenkins use it: `sh -c` with busybox's applets and loadgate on PATH.
fresh "$ci"
first="$(run sh -c 'loadgate --version >/dev/null && test -s "$SSL_CERT_FILE" \
  && cat "$SSL_CERT_FILE" | head -n 1')" || fail "$ci: sh -c"
expect "$ci first line of the CA bundle" "$first" "-----BEGIN CERTIFICATE-----"
echo "image: $ci: sh -c, cat and head work; the CA bundle is readable as the image's user"

# The worker image has no shell: look at its file system from here.
fresh "$worker"
root="$(bh mount "$ctr")"
python3 - "$root$bundle" <<'EOF' || fail "$worker: $bundle is not a usable CA bundle"
import ssl, sys
context = ssl.create_default_context(cafile=sys.argv[1])
count = context.cert_store_stats()["x509_ca"]
# Debian's bundle holds some 140 roots; a handful would mean a truncated or wrong file.
if count < 100:
    sys.exit(f"only {count} CA certificates in {sys.argv[1]}")
print(f"image: the worker image's CA bundle: {count} CA certificates")
EOF
bh umount "$ctr" >/dev/null

# Sizes: the file system as unpacked, and the gzip-compressed layers that a registry stores and
# Fargate pulls.
for image in "$worker" "$ci"; do
  fresh "$image"
  unpacked="$(du -sb "$(bh mount "$ctr")" | cut -f1)"
  bh umount "$ctr" >/dev/null
  bh push --quiet --compression-format gzip "$image" "oci:$work/${image##*:}" >/dev/null
  compressed="$(du -sb "$work/${image##*:}/blobs" | cut -f1)"
  echo "image: $image: $unpacked bytes unpacked ($(mib "$unpacked")), $compressed bytes" \
    "compressed ($(mib "$compressed"))"
  if [ "$image" = "$worker" ] && [ "$unpacked" -gt "$worker_budget" ]; then
    fail "$worker is over its budget of $worker_budget bytes"
  fi
done
echo "image: ok"
