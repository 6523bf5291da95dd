#!/usr/bin/env bash
# The self-push end to end: the static binary pushes itself as the worker image (`loadgate image
# push`, loadgate's own OCI code, no Docker) to Debian's docker-registry on 127.0.0.1 with basic
# auth, then curl pulls the manifest and the config back and checks them; a second push must
# find the tag and upload nothing. Prints the push time and the image's compressed size.
#
#   scripts/push-local.sh [BINARY]    default: target/image/loadgate-amd64 (scripts/build-static.sh)
#
# Installs what is missing (docker-registry, apache2-utils for htpasswd, curl, python3) with
# apt-get as root.
set -euo pipefail
cd "$(dirname "$0")/.."

binary="${1:-target/image/loadgate-amd64}"
[ -x "$binary" ] || { echo "push-local: no $binary: run scripts/build-static.sh" >&2; exit 1; }

need=()
[ -x /usr/bin/docker-registry ] || need+=(docker-registry)
command -v htpasswd >/dev/null 2>&1 || need+=(apache2-utils)
command -v curl >/dev/null 2>&1 || need+=(curl)
command -v python3 >/dev/null 2>&1 || need+=(python3)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "push-local: installing ${need[*]}" >&2
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  else
    echo "push-local: missing ${need[*]} (e.g. sudo apt-get install ${need[*]})" >&2
    exit 1
  fi
fi

work="$(mktemp -d)"
registry_pid=
cleanup() {
  if [ -n "$registry_pid" ]; then
    kill "$registry_pid" 2>/dev/null || true
    wait "$registry_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT
fail() {
  echo "push-local: FAILED: $*" >&2
  [ -s "$work/registry.log" ] && tail -n 20 "$work/registry.log" >&2
  exit 1
}

user=ci
password="$(python3 -c 'import secrets; print(secrets.token_hex(16))')"
htpasswd -nbB "$user" "$password" >"$work/htpasswd" 2>/dev/null
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
cat >"$work/config.yml" <<EOF
version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $work/data
http:
  addr: 127.0.0.1:$port
auth:
  htpasswd:
    realm: loadgate-ci
    path: $work/htpasswd
EOF
/usr/bin/docker-registry serve "$work/config.yml" >"$work/registry.log" 2>&1 &
registry_pid=$!
for _ in $(seq 1 300); do
  curl -s -o /dev/null "http://127.0.0.1:$port/v2/" && break
  kill -0 "$registry_pid" 2>/dev/null || fail "docker-registry exited"
  sleep 0.1
done

repository="127.0.0.1:$port/loadgate"
push() {
  LOADGATE_REGISTRY_USER="$user" LOADGATE_REGISTRY_PASSWORD="$password" \
    "$binary" image push --image "$repository" 2>"$work/push.err" || {
      cat "$work/push.err" >&2
      fail "loadgate image push"
    }
}
start_ns=$(date +%s%N)
uri="$(push)"
elapsed_ms=$(( ($(date +%s%N) - start_ns) / 1000000 ))
tag="${uri##*:}"
[ "$uri" = "$repository:$tag" ] || fail "image push printed '$uri'"

# Pull back what a runtime would: the manifest by tag, then the config blob.
get() {
  curl -fsS -u "$user:$password" \
    -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' \
    "http://127.0.0.1:$port/v2/loadgate/$1"
}
get "manifests/$tag" >"$work/manifest.json" || fail "GET manifest $tag"
config_digest="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["config"]["digest"])' \
  "$work/manifest.json")" || fail "no config in the manifest"
get "blobs/$config_digest" >"$work/config.json" || fail "GET config blob"
get "blobs/$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["layers"][0]["digest"])' \
  "$work/manifest.json")" >"$work/layer.tar.gz" || fail "GET layer blob"
python3 - "$work" <<'EOF' || fail "the pulled image is not the worker image"
import hashlib, json, sys, tarfile
work = sys.argv[1]
manifest = json.load(open(f"{work}/manifest.json"))
config = json.load(open(f"{work}/config.json"))
layer = open(f"{work}/layer.tar.gz", "rb").read()
assert manifest["layers"][0]["digest"] == "sha256:" + hashlib.sha256(layer).hexdigest()
assert config["config"]["Entrypoint"] == ["/loadgate"], config["config"]
assert config["os"] == "linux" and config["architecture"] == "amd64", config
with tarfile.open(f"{work}/layer.tar.gz") as tar:
    members = {m.name: m for m in tar.getmembers()}
assert members["loadgate"].mode == 0o755, members["loadgate"].mode
assert "etc/ssl/certs/ca-certificates.crt" in members
EOF
compressed="$(stat -c %s "$work/layer.tar.gz")"

# The warm path: the tag exists, nothing is uploaded.
again="$(push)"
[ "$again" = "$uri" ] || fail "second push printed '$again'"
grep -q "already present" "$work/push.err" || { cat "$work/push.err" >&2; fail "second push uploaded"; }

warm="$(sed -n 's/.* in \([0-9.]*s\): .*/\1/p' "$work/push.err")"
echo "push-local: pushed $uri in ${elapsed_ms} ms ($compressed bytes compressed," \
  "$(( (compressed + 524288) / 1048576 )) MiB); the second push found the tag in $warm and" \
  "uploaded nothing"
