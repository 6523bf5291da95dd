#!/usr/bin/env bash
# loadgate against wrk on loopback: client CPU per request, memory, stall accuracy, pacing.
#
#   scripts/bench.sh [throughput|memory|stall|pacing|all]      (default: all)
#   scripts/bench.sh instructions    (callgrind: engine instructions per request; not in `all`)
#   scripts/bench.sh realistic       (templated requests, feed, captures vs fixed ones; not in `all`)
#
# Starts its own nginx (one worker, pinned to core BENCH_SERVER_CPU) on 127.0.0.1 and runs each
# client pinned to core BENCH_CLIENT_CPU under GNU time (user+sys CPU, peak RSS). Installs nginx,
# wrk and time from Debian when they are missing. Tables go to stdout, one JSON line per mode to
# $BENCH_OUT/bench-<mode>.json. Exits non-zero only when something failed to run; whether a target
# was met is for the reader (the machines are noisy: quote medians and the spread).
#
# Environment (defaults in brackets):
#   LOADGATE_BIN        the binary to measure [target/release/loadgate, built with cargo first]
#   BENCH_OUT           where the JSON lines go, relative to the repository root [target/bench]
#   BENCH_ROUNDS        throughput: wrk/loadgate alternations [5]
#   BENCH_DURATION      throughput: length of each run [10s]
#   BENCH_CONNECTIONS   throughput: keep-alive connections [50]
#   BENCH_MEM_DURATION  memory: length of the 50- and 2,000-connection runs [5s]
#   BENCH_MEM_CONNECTIONS  memory: the high connection count [2000]
#   BENCH_SHORT, BENCH_LONG  memory: the run lengths compared for RSS growth [10s, 60s]
#   BENCH_STALL_RATE    stall: open-model rate per second [2000]
#   BENCH_STALL_DURATION, BENCH_STALL_AT, BENCH_STALL_FOR  stall: run length, freeze start and
#                       length [10s, 3s, 0.5s]
#   BENCH_PACING_RATE, BENCH_PACING_DURATION  pacing: open-model rate and run length [10000, 10s]
#   BENCH_FEED_ROWS     realistic: rows of the generated data feed [1000000]
#   BENCH_SERVER_CPU, BENCH_CLIENT_CPU  the cores of nginx and of the client [0, 1]
#   BENCH_KEEP=1        keep the temp dir (nginx config, raw outputs) and print its path
set -euo pipefail
# EPOCHREALTIME and the figures handed to python must use a decimal point.
export LC_ALL=C

usage() { sed -n '2,5p' "$0" | sed 's/^# \{0,1\}//'; }

MODE=${1:-all}
case $MODE in
    throughput | memory | stall | pacing | instructions | realistic | all) ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; exit 2 ;;
esac

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
HERE=$ROOT/scripts/bench
cd "$ROOT"

die() { echo "bench: $*" >&2; exit 1; }
say() { echo "bench: $*" >&2; }

# A duration as whole seconds: "10s", "2m" or a bare number of seconds.
seconds() {
    [[ $1 =~ ^([0-9]+)([smh]?)$ ]] || die "bad duration '$1' (use e.g. 10s or 2m)"
    local n=$((10#${BASH_REMATCH[1]}))
    case ${BASH_REMATCH[2]} in
        h) echo $((n * 3600)) ;;
        m) echo $((n * 60)) ;;
        *) echo "$n" ;;
    esac
}
positive() { [[ $2 =~ ^[1-9][0-9]*$ ]] || die "$1 must be a positive integer, not '$2'"; echo "$2"; }

ROUNDS=$(positive BENCH_ROUNDS "${BENCH_ROUNDS:-5}")
DURATION=$(seconds "${BENCH_DURATION:-10s}")
CONNS=$(positive BENCH_CONNECTIONS "${BENCH_CONNECTIONS:-50}")
MEM_DURATION=$(seconds "${BENCH_MEM_DURATION:-5s}")
MEM_CONNS=$(positive BENCH_MEM_CONNECTIONS "${BENCH_MEM_CONNECTIONS:-2000}")
SHORT=$(seconds "${BENCH_SHORT:-10s}")
LONG=$(seconds "${BENCH_LONG:-60s}")
STALL_RATE=$(positive BENCH_STALL_RATE "${BENCH_STALL_RATE:-2000}")
STALL_DURATION=$(seconds "${BENCH_STALL_DURATION:-10s}")
STALL_AT=$(seconds "${BENCH_STALL_AT:-3s}")
STALL_FOR=${BENCH_STALL_FOR:-0.5}
STALL_FOR=${STALL_FOR%s}
[[ $STALL_FOR =~ ^[0-9]*\.?[0-9]+$ ]] || die "BENCH_STALL_FOR must be seconds, e.g. 0.5"
PACING_RATE=$(positive BENCH_PACING_RATE "${BENCH_PACING_RATE:-10000}")
PACING_DURATION=$(seconds "${BENCH_PACING_DURATION:-10s}")
FEED_ROWS=$(positive BENCH_FEED_ROWS "${BENCH_FEED_ROWS:-1000000}")
SERVER_CPU=${BENCH_SERVER_CPU:-0}
CLIENT_CPU=${BENCH_CLIENT_CPU:-1}
OUT=${BENCH_OUT:-target/bench}
((DURATION > 0 && MEM_DURATION > 0 && SHORT > 0 && LONG > 0 && PACING_DURATION > 0)) ||
    die "durations must be at least 1s"
((STALL_AT + 2 <= STALL_DURATION)) || die "the stall must start at least 2 s before the run ends"

# --- tools --------------------------------------------------------------------------------------

install_tools() {
    local missing=()
    command -v nginx >/dev/null || [[ -x /usr/sbin/nginx ]] || missing+=(nginx)
    command -v wrk >/dev/null || missing+=(wrk)
    [[ -x /usr/bin/time ]] || missing+=(time)
    command -v taskset >/dev/null || missing+=(util-linux)
    command -v python3 >/dev/null || missing+=(python3)
    ((${#missing[@]})) || return 0

    command -v apt-get >/dev/null || die "missing ${missing[*]} and no apt-get to install them"
    local sudo=()
    if ((EUID != 0)); then
        command -v sudo >/dev/null || die "missing ${missing[*]}: install them (as root) or run as root"
        sudo=(sudo)
    fi
    say "installing ${missing[*]} from Debian"
    "${sudo[@]}" apt-get update -qq
    local pkgs=() p
    for p in "${missing[@]}"; do
        # nginx-light is enough (and smaller) where it exists; newer releases fold it into nginx.
        if [[ $p == nginx ]] && apt-cache policy nginx-light 2>/dev/null | grep -q 'Candidate: [0-9]'; then
            p=nginx-light
        fi
        pkgs+=("$p")
    done
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${pkgs[@]}" >/dev/null
}

install_tools
NGINX_BIN=${NGINX_BIN:-$(command -v nginx || echo /usr/sbin/nginx)}
export NGINX_BIN

if [[ -z ${LOADGATE_BIN:-} ]]; then
    # Always build: cargo is a no-op when the binary is current, and a stale binary would quietly
    # benchmark old code.
    command -v cargo >/dev/null || die "cargo not found: install Rust or set LOADGATE_BIN"
    say "cargo build --release"
    cargo build --release --quiet
    LOADGATE_BIN=$ROOT/target/release/loadgate
fi
[[ -x $LOADGATE_BIN ]] || die "LOADGATE_BIN=$LOADGATE_BIN is not an executable"
LOADGATE_BIN=$(cd "$(dirname "$LOADGATE_BIN")" && pwd)/$(basename "$LOADGATE_BIN")
export LOADGATE_BIN

CPUS=$(nproc)
if ((CPUS < 2)) && [[ -z ${BENCH_CLIENT_CPU:-} ]]; then
    say "warning: one core only; server and client share it, the figures mean little"
    CLIENT_CPU=0
fi
# 2,000 connections and an open model's in-flight peak need more than the usual 1,024 descriptors.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

# --- lifetime: everything started here is stopped here -------------------------------------------

TMP=$(mktemp -d "${TMPDIR:-/tmp}/loadgate-bench.XXXXXX")
NGINX_PID=
CLIENT_PID=
FROZEN_PID=

stop_pid() {
    local pid=$1 i
    kill -TERM "$pid" 2>/dev/null || return 0
    for ((i = 0; i < 50; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    # A stopped process keeps a TERM pending: resume it first or nginx would never exit.
    [[ -n $FROZEN_PID ]] && kill -CONT "$FROZEN_PID" 2>/dev/null
    if [[ -n $CLIENT_PID ]]; then
        # GNU time ignores SIGINT and would outlive its child if killed first: stop the client
        # (its only child) before it.
        pkill -TERM -P "$CLIENT_PID" 2>/dev/null || true
        stop_pid "$CLIENT_PID"
    fi
    [[ -n $NGINX_PID ]] && stop_pid "$NGINX_PID"
    if [[ -n ${BENCH_KEEP:-} ]]; then
        say "kept $TMP"
    else
        rm -rf "$TMP"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- nginx ---------------------------------------------------------------------------------------

nginx_conf() {
    local port=$1 temp_paths='' m
    # Each module's temp path is set only when this build has the module (an unknown directive is a
    # configuration error), so nginx writes nothing outside $TMP.
    for m in proxy fastcgi uwsgi scgi; do
        if ! "$NGINX_BIN" -V 2>&1 | grep -q -- "--without-http_${m}_module"; then
            temp_paths+="    ${m}_temp_path $TMP/$m;"$'\n'
        fi
    done
    local template
    template=$(<"$HERE/nginx.conf.in")
    template=${template//@DIR@/$TMP}
    template=${template//@PORT@/$port}
    printf '%s\n' "${template//@TEMP_PATHS@/$temp_paths}" >"$TMP/nginx.conf"
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

start_nginx() {
    local i
    for _ in 1 2 3; do
        PORT=$(python3 "$HERE/bench.py" free-port)
        nginx_conf "$PORT"
        # `daemon off` keeps the master as our child, so its pid is $! and the trap can stop it.
        taskset -c "$SERVER_CPU" "$NGINX_BIN" -p "$TMP" -c "$TMP/nginx.conf" -e "$TMP/error.log" \
            -g 'daemon off;' >>"$TMP/nginx.out" 2>&1 &
        NGINX_PID=$!
        for ((i = 0; i < 50; i++)); do
            if port_open "$PORT"; then
                NGINX_WORKER=$(pgrep -P "$NGINX_PID" | head -n1)
                [[ -n $NGINX_WORKER ]] || die "nginx started without a worker process"
                say "nginx on 127.0.0.1:$PORT (master $NGINX_PID, worker $NGINX_WORKER, core $SERVER_CPU)"
                return 0
            fi
            kill -0 "$NGINX_PID" 2>/dev/null || break
            sleep 0.1
        done
        # Most likely the port was taken between choosing and binding it: try another.
        stop_pid "$NGINX_PID"
        NGINX_PID=
    done
    cat "$TMP/nginx.out" "$TMP/error.log" >&2 2>/dev/null || true
    die "nginx did not start"
}

# --- clients -------------------------------------------------------------------------------------

# run_client NAME COMMAND...: run COMMAND pinned to the client core under GNU time; sets RUN_TIME
# (time's output file) and RUN_RC. Runs in the background and waits, so that INT/TERM reach the
# trap at once instead of after the run.
run_client() {
    local name=$1
    shift
    RUN_TIME=$TMP/$name.time
    /usr/bin/time -f '%U %S %M %e' -o "$RUN_TIME" taskset -c "$CLIENT_CPU" "$@" \
        >"$TMP/$name.out" 2>"$TMP/$name.err" &
    CLIENT_PID=$!
    RUN_RC=0
    wait "$CLIENT_PID" || RUN_RC=$?
    CLIENT_PID=
}

RUNS=
record() { printf '%s\n' "$1" >>"$RUNS"; }

# wrk_run TAG ROUND CONNECTIONS SECONDS
wrk_run() {
    local tag=$1 round=$2 conns=$3 secs=$4 name="wrk-$1-$2"
    say "wrk      $tag round $round: $conns connections, ${secs}s"
    run_client "$name" wrk -t1 -c"$conns" -d"${secs}s" --latency "http://127.0.0.1:$PORT/"
    ((RUN_RC == 0)) || { cat "$TMP/$name.err" "$TMP/$name.out" >&2; die "wrk failed (exit $RUN_RC)"; }
    record "{\"client\":\"wrk\",\"tag\":\"$tag\",\"round\":$round,\"connections\":$conns,\"rc\":0,\"time\":\"$RUN_TIME\",\"wrk\":\"$TMP/$name.out\"}"
}

# scenario FILE LOAD: a one-request scenario against our nginx. The default threshold is stated so
# that loadgate does not warn about its absence.
scenario() {
    cat >"$1" <<EOF
name: bench
target: http://127.0.0.1:$PORT
load: $2
requests: [ { name: get, path: / } ]
thresholds: [ "error_rate < 1%" ]
EOF
}

# loadgate_start TAG ROUND LOAD: start loadgate in the background (pid in CLIENT_PID);
# loadgate_finish waits for it and records the run with EXTRA JSON fields.
loadgate_start() {
    LG_NAME="loadgate-$1-$2"
    LG_TAG=$1
    LG_ROUND=$2
    scenario "$TMP/$LG_NAME.yaml" "$3"
    say "loadgate $1 round $2: $3"
    RUN_TIME=$TMP/$LG_NAME.time
    /usr/bin/time -f '%U %S %M %e' -o "$RUN_TIME" taskset -c "$CLIENT_CPU" \
        "$LOADGATE_BIN" run "$TMP/$LG_NAME.yaml" --out "$TMP/$LG_NAME" --quiet --threads 1 \
        >"$TMP/$LG_NAME.out" 2>"$TMP/$LG_NAME.err" &
    CLIENT_PID=$!
}

loadgate_finish() {
    local extra=${1:-}
    RUN_RC=0
    wait "$CLIENT_PID" || RUN_RC=$?
    CLIENT_PID=
    # 0 passed, 1 a threshold failed: either way the run completed and its figures exist.
    if ((RUN_RC > 1)) || [[ ! -s $TMP/$LG_NAME/results.json ]]; then
        tail -n 20 "$TMP/$LG_NAME.err" >&2 || true
        die "loadgate failed (exit $RUN_RC)"
    fi
    record "{\"client\":\"loadgate\",\"tag\":\"$LG_TAG\",\"round\":$LG_ROUND,\"rc\":$RUN_RC,\"time\":\"$RUN_TIME\",\"results\":\"$TMP/$LG_NAME/results.json\"$extra}"
}

loadgate_run() {
    loadgate_start "$@"
    loadgate_finish
}

closed() { echo "{ concurrency: $1, hold_for: ${2}s }"; }
# The in-flight bound sits far above what a stall at the rate can pile up, so nothing is dropped.
open_model() { echo "{ rate: $1/s, hold_for: ${2}s, max_in_flight: $(($1 * 2 + 1000)) }"; }

# summarize MODE CONFIG_JSON: tables on stdout, the JSON line in $OUT.
summarize() {
    BENCH_CONFIG=$2 python3 "$HERE/bench.py" summarize "$1" "$RUNS" "$OUT/bench-$1.json" ||
        die "could not summarize $1"
    echo
}

new_mode() {
    RUNS=$TMP/runs-$1.jsonl
    : >"$RUNS"
    echo "=== $1 ==="
}

# --- modes ---------------------------------------------------------------------------------------

bench_throughput() {
    new_mode throughput
    # Warm nginx (and the page cache of both binaries) so that round 1 is not the odd one out.
    run_client warmup wrk -t1 -c"$CONNS" -d1s "http://127.0.0.1:$PORT/"
    local r
    for ((r = 1; r <= ROUNDS; r++)); do
        # Alternating puts both clients under the same drift in machine load.
        wrk_run "c$CONNS" "$r" "$CONNS" "$DURATION"
        loadgate_run "c$CONNS" "$r" "$(closed "$CONNS" "$DURATION")"
    done
    summarize throughput "{\"connections\":$CONNS,\"duration_s\":$DURATION,\"rounds\":$ROUNDS,\"server_cpu\":$SERVER_CPU,\"client_cpu\":$CLIENT_CPU}"
}

bench_memory() {
    new_mode memory
    local c
    for c in "$CONNS" "$MEM_CONNS"; do
        wrk_run "c$c" 1 "$c" "$MEM_DURATION"
        loadgate_run "c$c" 1 "$(closed "$c" "$MEM_DURATION")"
    done
    loadgate_run short 1 "$(closed "$CONNS" "$SHORT")"
    loadgate_run long 1 "$(closed "$CONNS" "$LONG")"
    summarize memory "{\"connections_low\":$CONNS,\"connections_high\":$MEM_CONNS,\"duration_s\":$MEM_DURATION,\"short_s\":$SHORT,\"long_s\":$LONG}"
}

bench_stall() {
    new_mode stall
    loadgate_start stall 1 "$(open_model "$STALL_RATE" "$STALL_DURATION")"
    local started=$EPOCHREALTIME at frozen
    sleep "$STALL_AT"
    # The worker alone serves requests; freezing it leaves the master (and the trap) untouched.
    FROZEN_PID=$NGINX_WORKER
    at=$(python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.3f}')" \
        "$started" "$EPOCHREALTIME")
    frozen=$(python3 "$HERE/bench.py" freeze "$NGINX_WORKER" "$STALL_FOR") || die "could not freeze nginx"
    FROZEN_PID=
    kill -0 "$CLIENT_PID" 2>/dev/null || die "loadgate ended before the stall was over"
    say "nginx worker frozen for ${frozen}s, ${at}s after loadgate started"
    loadgate_finish ",\"freeze_s\":$frozen,\"freeze_at_s\":$at"
    summarize stall "{\"rate\":$STALL_RATE,\"duration_s\":$STALL_DURATION,\"freeze_at_s\":$STALL_AT,\"freeze_requested_s\":$STALL_FOR}"
}

bench_pacing() {
    new_mode pacing
    loadgate_run pacing 1 "$(open_model "$PACING_RATE" "$PACING_DURATION")"
    summarize pacing "{\"rate\":$PACING_RATE,\"duration_s\":$PACING_DURATION}"
}

# Realistic users against fixed requests, alternated in the same run: the same closed model, but
# each iteration takes a row of a BENCH_FEED_ROWS-row `unique` feed, 9 of its 10 requests have a
# templated path and header, and the 10th captures a value from a JSON body. Then `loadgate
# validate` with and without that feed: what loading it costs in time and memory.
realistic_scenario() {
    cat >"$1" <<EOF
name: bench-realistic
target: http://127.0.0.1:$PORT
data: { users: { file: $TMP/users.csv, mode: unique, on_exhausted: recycle } }
load: $2
requests:
EOF
    local i
    for ((i = 0; i < 9; i++)); do
        echo '  - { name: get, path: "/r/{{ users.id }}?i={{ iteration }}", headers: { X-User: "{{ user }}" } }' >>"$1"
    done
    cat >>"$1" <<'EOF'
  - { name: json, path: /json, headers: { X-User: "{{ user }}" }, capture: { id: { json: /id } } }
thresholds: [ "error_rate < 1%" ]
EOF
}

bench_realistic() {
    new_mode realistic
    python3 -c '
import sys
with open(sys.argv[1], "w") as f:
    f.write("id,email,password\n")
    for i in range(int(sys.argv[2])):
        f.write(f"{i},user{i}@example.com,pw-{i:08x}\n")
' "$TMP/users.csv" "$FEED_ROWS"
    local feed_bytes r
    feed_bytes=$(stat -c %s "$TMP/users.csv")
    run_client warmup wrk -t1 -c"$CONNS" -d1s "http://127.0.0.1:$PORT/"
    for ((r = 1; r <= ROUNDS; r++)); do
        loadgate_run static "$r" "$(closed "$CONNS" "$DURATION")"
        # loadgate_start's runner, with the realistic scenario in place of the one-request one.
        LG_NAME="loadgate-realistic-$r"
        LG_TAG=realistic
        LG_ROUND=$r
        realistic_scenario "$TMP/$LG_NAME.yaml" "$(closed "$CONNS" "$DURATION")"
        say "loadgate realistic round $r"
        RUN_TIME=$TMP/$LG_NAME.time
        /usr/bin/time -f '%U %S %M %e' -o "$RUN_TIME" taskset -c "$CLIENT_CPU" \
            "$LOADGATE_BIN" run "$TMP/$LG_NAME.yaml" --out "$TMP/$LG_NAME" --quiet --threads 1 \
            >"$TMP/$LG_NAME.out" 2>"$TMP/$LG_NAME.err" &
        CLIENT_PID=$!
        loadgate_finish
    done
    realistic_scenario "$TMP/feed.yaml" "$(closed 1 1)"
    scenario "$TMP/nofeed.yaml" "$(closed 1 1)"
    for ((r = 1; r <= 3; r++)); do
        run_client "validate-feed-$r" "$LOADGATE_BIN" validate "$TMP/feed.yaml"
        ((RUN_RC == 0)) || { cat "$TMP/validate-feed-$r.err" >&2; die "validate failed"; }
        record "{\"client\":\"validate\",\"tag\":\"feed\",\"round\":$r,\"rc\":0,\"time\":\"$RUN_TIME\"}"
        run_client "validate-nofeed-$r" "$LOADGATE_BIN" validate "$TMP/nofeed.yaml"
        ((RUN_RC == 0)) || { cat "$TMP/validate-nofeed-$r.err" >&2; die "validate failed"; }
        record "{\"client\":\"validate\",\"tag\":\"nofeed\",\"round\":$r,\"rc\":0,\"time\":\"$RUN_TIME\"}"
    done
    summarize realistic "{\"connections\":$CONNS,\"duration_s\":$DURATION,\"rounds\":$ROUNDS,\"feed_rows\":$FEED_ROWS,\"feed_bytes\":$feed_bytes,\"server_cpu\":$SERVER_CPU,\"client_cpu\":$CLIENT_CPU}"
}

# Instruction counts do not depend on what else the machine runs: the one figure of this script
# that a busy machine measures as well as a quiet one. The engine thread only (run_thread), via the
# library's measurement harness (src/engine/bench.rs), BENCH_CONNECTIONS connections for 4 s.
bench_instructions() {
    new_mode instructions
    command -v valgrind >/dev/null || die "valgrind not found (apt-get install valgrind)"
    local bin out
    bin=$(cargo test --release --lib --no-run 2>&1 | grep -oE 'target/release/deps/loadgate-[0-9a-f]+' | tail -n1)
    [[ -n $bin && -x $bin ]] || die "could not build the library's test binary"
    out=$TMP/callgrind.out
    LOADGATE_BENCH_URL="http://127.0.0.1:$PORT/" LOADGATE_BENCH_CONNS=$CONNS LOADGATE_BENCH_SECS=4 \
        taskset -c "$CLIENT_CPU" valgrind --tool=callgrind --toggle-collect='*run_thread*' \
        --callgrind-out-file="$out" "$bin" engine::bench::bench --ignored --exact --nocapture \
        >"$TMP/instructions.out" 2>"$TMP/instructions.err" || {
        tail -n 20 "$TMP/instructions.err" >&2
        die "callgrind run failed"
    }
    local requests instructions
    requests=$(grep -oE 'requests [0-9]+' "$TMP/instructions.out" | head -n1 | cut -d' ' -f2)
    instructions=$(grep -E '^(summary|totals):' "$out" | head -n1 | awk '{print $2}')
    [[ -n $requests && -n $instructions && $requests -gt 0 ]] || die "no figures in the callgrind run"
    echo "engine instructions per request: $((instructions / requests)) ($instructions over $requests requests, $CONNS connections)"
    echo "profile: callgrind_annotate --inclusive=yes $out   (BENCH_KEEP=1 keeps it)"
    printf '{"mode":"instructions","connections":%d,"requests":%d,"instructions":%d,"per_request":%d}\n' \
        "$CONNS" "$requests" "$instructions" "$((instructions / requests))" >"$OUT/bench-instructions.json"
}

# --- main ----------------------------------------------------------------------------------------

mkdir -p "$OUT"
start_nginx
echo "loadgate bench, $(date -u +%Y-%m-%dT%H:%MZ), $CPUS cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')):" \
    "nginx on core $SERVER_CPU, clients on core $CLIENT_CPU"
LG_VERSION=$("$LOADGATE_BIN" --version 2>/dev/null | head -n1) || true
echo "${LG_VERSION:-loadgate} ($LOADGATE_BIN, commit $(git describe --always --dirty 2>/dev/null || echo unknown)), $(wrk --version 2>&1 | head -n1 | cut -d' ' -f1-2)"
echo
case $MODE in
    all)
        bench_throughput
        bench_memory
        bench_stall
        bench_pacing
        ;;
    *) "bench_$MODE" ;;
esac
