#!/usr/bin/env python3
"""Helpers of scripts/bench.sh: parse what wrk, GNU time and loadgate wrote, compute medians and
spreads, print the tables and write one JSON line per mode. Standard library only, so the benchmark
runs wherever python3 does.

    bench.py free-port
    bench.py freeze PID SECONDS            SIGSTOP PID, sleep, SIGCONT; prints the frozen seconds
    bench.py summarize MODE RUNS.jsonl OUT.json

RUNS.jsonl has one object per client run, written by bench.sh: client ("wrk" or "loadgate"), tag
(what the run is for: "c50", "long", ...), round, rc, time (GNU time's `%U %S %M %e` file), and
wrk (wrk's stdout) or results (loadgate's results.json), plus mode-specific figures.
"""

import json
import os
import platform
import re
import signal
import socket
import statistics
import subprocess
import sys
import time


class BenchError(Exception):
    """A run's output could not be read: the benchmark failed to run, not the client to perform."""


# ---------------------------------------------------------------------------------------------
# Parsing


def parse_time_file(path):
    """GNU time's `-f '%U %S %M %e'` line. time writes "Command exited with non-zero status N"
    before it when the command failed, so the figures are on the last line."""
    try:
        with open(path, encoding="utf-8") as f:
            lines = [line.strip() for line in f if line.strip()]
    except OSError as e:
        raise BenchError(f"cannot read {path}: {e}") from e
    if not lines:
        raise BenchError(f"{path} is empty")
    fields = lines[-1].split()
    try:
        user, sys_, rss_kb, wall = float(fields[0]), float(fields[1]), int(fields[2]), float(fields[3])
    except (IndexError, ValueError) as e:
        raise BenchError(f"unexpected GNU time output in {path}: {lines[-1]!r}") from e
    return {"cpu_s": user + sys_, "user_s": user, "sys_s": sys_, "rss_kb": rss_kb, "wall_s": wall}


_WRK_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}


def wrk_time_ms(text):
    m = re.fullmatch(r"([0-9.]+)(us|ms|s|m|h)", text)
    if not m:
        raise BenchError(f"unexpected wrk time {text!r}")
    return float(m.group(1)) * _WRK_UNITS_MS[m.group(2)]


def parse_wrk(path):
    """wrk 4's report with --latency."""
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            text = f.read()
    except OSError as e:
        raise BenchError(f"cannot read {path}: {e}") from e
    out = {}
    m = re.search(r"^\s*(\d+) requests in ([0-9.]+\w+),", text, re.M)
    rps = re.search(r"^Requests/sec:\s*([0-9.]+)", text, re.M)
    if not m or not rps:
        raise BenchError(f"no request count in wrk output {path}:\n{text}")
    out["requests"] = int(m.group(1))
    out["duration_s"] = wrk_time_ms(m.group(2)) / 1000.0
    out["rps"] = float(rps.group(1))
    for pct, key in (("50", "p50_ms"), ("99", "p99_ms")):
        p = re.search(rf"^\s*{pct}%\s+(\S+)", text, re.M)
        if not p:
            raise BenchError(f"no {pct}% latency in wrk output {path} (was --latency given?)")
        out[key] = wrk_time_ms(p.group(1))
    non2xx = re.search(r"Non-2xx or 3xx responses:\s*(\d+)", text)
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    out["errors"] = (int(non2xx.group(1)) if non2xx else 0) + (
        sum(int(g) for g in sock.groups()) if sock else 0
    )
    return out


def find_object(doc, pattern):
    """The first object whose key matches `pattern`, searching depth first; with its key.
    Non-object values are skipped: `histograms.sched_lag` is an encoded histogram, not figures."""
    if isinstance(doc, dict):
        for k, v in doc.items():
            if isinstance(v, dict) and re.search(pattern, k, re.I):
                return k, v
        children = doc.values()
    elif isinstance(doc, list):
        children = doc
    else:
        return None
    for v in children:
        found = find_object(v, pattern)
        if found:
            return found
    return None


def sched_lag(doc):
    """Scheduling lag p50/p99 in ms, if results.json carries a `sched_lag`-like object.

    loadgate writes `generator.sched_lag_ms` (open model only). The field is not in the v1 contract,
    so other spellings are accepted: an object with p50 and p99, each optionally suffixed with its
    unit (`p99_us`), else in the unit of the object's key's suffix (`sched_lag_us`), else in ms."""
    found = find_object(doc, r"sched\w*lag")
    if not found:
        return None
    key, value = found
    scales = {"us": 0.001, "ms": 1.0, "s": 1000.0}
    key_unit = key.rsplit("_", 1)[-1] if "_" in key else "ms"
    lag = {"field": key}
    for p in ("p50", "p99"):
        candidates = [(f"{p}_{unit}", scale) for unit, scale in scales.items()]
        candidates.append((p, scales.get(key_unit, 1.0)))
        numbers = [v * scale for name, scale in candidates
                   if isinstance(v := value.get(name), (int, float))]
        lag[p + "_ms"] = numbers[0] if numbers else None
    return lag


def parse_results(path):
    try:
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
    except (OSError, ValueError) as e:
        raise BenchError(f"cannot read loadgate's results {path}: {e}") from e
    try:
        total = doc["total"]
        rt = total["response_time_ms"]
        out = {
            "requests": int(total["requests"]),
            "errors": int(total.get("errors", 0)),
            "dropped": int(total.get("dropped", 0)),
            "rps": float(total["rps"]),
            "duration_s": float(doc["duration_s"]),
            "p50_ms": float(rt["p50"]),
            "p99_ms": float(rt["p99"]),
            "max_ms": float(rt.get("max", 0.0)),
        }
    except (KeyError, TypeError, ValueError) as e:
        raise BenchError(f"{path} lacks a summary field: {e}") from e
    out["warnings"] = [str(w) for w in doc.get("warnings") or []]
    out["sched_lag"] = sched_lag(doc)
    generator = doc.get("generator")
    # The engine's own measure of its busiest thread: CPU time over wall time, 1.0 = a full core.
    out["engine_cpu_max"] = generator.get("cpu_max") if isinstance(generator, dict) else None
    # The second with the worst p99 locates a stall in the timeline.
    timeline = [p for p in doc.get("timeline") or [] if isinstance(p, dict)]
    if timeline:
        worst = max(timeline, key=lambda p: p.get("p99_ms") or 0.0)
        out["worst_second"] = {"t": worst.get("t"), "p99_ms": worst.get("p99_ms")}
    return out


def load_run(rec):
    """A run record with its measured figures filled in."""
    if rec.get("client") == "validate":
        # `loadgate validate` reading a data feed: only its time and memory matter.
        figures = parse_time_file(rec["time"])
        figures["requests"] = 0
        figures["cpu_us_per_req"] = None
        figures["cpu_util"] = None
        return {**rec, **figures}
    if rec.get("wrk"):
        figures = parse_wrk(rec["wrk"])
    elif rec.get("results"):
        figures = parse_results(rec["results"])
    else:
        raise BenchError(f"run record without output: {rec}")
    figures.update(parse_time_file(rec["time"]))
    # The whole process's CPU (start-up and report writing included) over the requests it sent.
    figures["cpu_us_per_req"] = (
        figures["cpu_s"] / figures["requests"] * 1e6 if figures["requests"] else None
    )
    figures["cpu_util"] = figures["cpu_s"] / figures["wall_s"] if figures["wall_s"] else None
    return {**rec, **figures}


# ---------------------------------------------------------------------------------------------
# Statistics and formatting


def spread(values):
    values = [v for v in values if v is not None]
    if not values:
        return None
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def fmt(value, digits):
    if value is None:
        return "n/a"
    if abs(value) >= 1000 and digits == 0:
        return f"{value:,.0f}"
    return f"{value:.{digits}f}"


def fmt_spread(s, digits):
    if s is None:
        return "n/a"
    if s["min"] == s["max"]:
        return fmt(s["median"], digits)
    return f"{fmt(s['median'], digits)} [{fmt(s['min'], digits)}–{fmt(s['max'], digits)}]"


def table(headers, rows):
    widths = [max(len(str(c)) for c in col) for col in zip(headers, *rows)]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(headers, widths)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    for row in rows:
        lines.append("  ".join(str(c).ljust(w) for c, w in zip(row, widths)).rstrip())
    return "\n".join(lines)


def ratio(a, b):
    return a / b if a is not None and b else None


def warn_errors(runs):
    for r in runs:
        if r.get("errors"):
            print(
                f"warning: {r['client']} {r['tag']} round {r['round']}: {r['errors']} errors; "
                "figures of a failing run are not comparable"
            )
        for w in r.get("warnings") or []:
            print(f"loadgate warning ({r['tag']} round {r['round']}): {w}")


# ---------------------------------------------------------------------------------------------
# Modes


COLUMNS = [
    ("rps", "req/s", 0),
    ("cpu_us_per_req", "CPU µs/req", 2),
    ("cpu_util", "CPU (cores)", 2),
    ("p50_ms", "p50 ms", 3),
    ("p99_ms", "p99 ms", 3),
    ("rss_mb", "peak RSS MB", 1),
]


def summarize_throughput(runs, cfg):
    for r in runs:
        r["rss_mb"] = r["rss_kb"] / 1024.0
    summary, rows = {}, []
    for client in ("wrk", "loadgate"):
        mine = [r for r in runs if r["client"] == client]
        summary[client] = {key: spread([r[key] for r in mine]) for key, _, _ in COLUMNS}
        rows.append([client] + [fmt_spread(summary[client][k], d) for k, _, d in COLUMNS])
    # Each loadgate run is compared with the wrk run of its own round: alternation puts both under
    # the same machine noise, so the per-round ratio is steadier than a ratio of medians.
    paired = {}
    for key in ("cpu_us_per_req", "rps"):
        by_round = {}
        for r in runs:
            by_round.setdefault(r["round"], {})[r["client"]] = r[key]
        per_round = [ratio(v.get("loadgate"), v.get("wrk")) for v in by_round.values()]
        paired[key] = {
            "of_medians": ratio(
                (summary["loadgate"][key] or {}).get("median"), (summary["wrk"][key] or {}).get("median")
            ),
            "per_round": spread(per_round),
        }
    summary["ratio_loadgate_over_wrk"] = paired

    print(
        f"throughput: closed model, {cfg['connections']} connections, {cfg['duration_s']} s per run, "
        f"{cfg['rounds']} alternations; median [min–max]"
    )
    print(table(["client"] + [h for _, h, _ in COLUMNS], rows))
    print()
    for key, name, target in (("cpu_us_per_req", "CPU per request", " (target ≤ 1.05)"), ("rps", "req/s", "")):
        p = paired[key]
        print(
            f"loadgate / wrk, {name}: {fmt(p['of_medians'], 3)} (ratio of medians); "
            f"per round {fmt_spread(p['per_round'], 3)}{target}"
        )
    return summary


def summarize_realistic(runs, cfg):
    """Fixed requests against realistic ones (templated path and header, a row of a data feed per
    iteration, a JSON capture every 10th request), alternated; and what loading a large feed costs."""
    load = [r for r in runs if r["client"] == "loadgate"]
    for r in load:
        r["rss_mb"] = r["rss_kb"] / 1024.0
    summary, rows = {}, []
    for tag in ("static", "realistic"):
        mine = [r for r in load if r["tag"] == tag]
        summary[tag] = {key: spread([r[key] for r in mine]) for key, _, _ in COLUMNS}
        rows.append([tag] + [fmt_spread(summary[tag][k], d) for k, _, d in COLUMNS])
    by_round = {}
    for r in load:
        by_round.setdefault(r["round"], {})[r["tag"]] = r["cpu_us_per_req"]
    per_round = [ratio(v.get("realistic"), v.get("static")) for v in by_round.values()]
    summary["cpu_ratio_realistic_over_static"] = {
        "of_medians": ratio(
            (summary["realistic"]["cpu_us_per_req"] or {}).get("median"),
            (summary["static"]["cpu_us_per_req"] or {}).get("median"),
        ),
        "per_round": spread(per_round),
    }
    print(
        f"realistic: closed model, {cfg['connections']} connections, {cfg['duration_s']} s per run, "
        f"{cfg['rounds']} alternations of fixed and realistic requests; median [min–max]"
    )
    print(table(["requests"] + [h for _, h, _ in COLUMNS], rows))
    p = summary["cpu_ratio_realistic_over_static"]
    print(
        f"\nrealistic / static, CPU per request: {fmt(p['of_medians'], 3)} (ratio of medians); "
        f"per round {fmt_spread(p['per_round'], 3)} (target ≤ 1.3)"
    )
    feed = {}
    for tag in ("nofeed", "feed"):
        mine = [r for r in runs if r["client"] == "validate" and r["tag"] == tag]
        feed[tag] = {
            "wall_s": spread([r["wall_s"] for r in mine]),
            "rss_mb": spread([r["rss_kb"] / 1024.0 for r in mine]),
        }
    if feed["feed"]["wall_s"] and feed["nofeed"]["wall_s"]:
        load_s = feed["feed"]["wall_s"]["median"] - feed["nofeed"]["wall_s"]["median"]
        rss_mb = feed["feed"]["rss_mb"]["median"] - feed["nofeed"]["rss_mb"]["median"]
        size_mb = cfg["feed_bytes"] / (1 << 20)
        feed["load_s"] = load_s
        feed["rss_over_size"] = rss_mb / size_mb if size_mb else None
        print(
            f"data feed of {cfg['feed_rows']:,} rows ({size_mb:.1f} MiB): `loadgate validate` takes "
            f"{fmt_spread(feed['feed']['wall_s'], 3)} s against {fmt_spread(feed['nofeed']['wall_s'], 3)} s "
            f"without it (load ≈ {load_s:.3f} s); peak RSS {fmt_spread(feed['feed']['rss_mb'], 1)} MB "
            f"against {fmt_spread(feed['nofeed']['rss_mb'], 1)} MB ({rss_mb:.1f} MB, "
            f"{fmt(feed['rss_over_size'], 2)}× the file)"
        )
    summary["feed"] = feed
    return summary


def summarize_memory(runs, cfg):
    def rss(client, tag):
        vals = [r["rss_kb"] for r in runs if r["client"] == client and r["tag"] == tag]
        return statistics.median(vals) if vals else None

    lo, hi = cfg["connections_low"], cfg["connections_high"]
    summary, rows = {}, []
    for client in ("wrk", "loadgate"):
        a, b = rss(client, f"c{lo}"), rss(client, f"c{hi}")
        per_conn = (b - a) / (hi - lo) if a is not None and b is not None else None
        summary[client] = {f"rss_kb_c{lo}": a, f"rss_kb_c{hi}": b, "kb_per_connection": per_conn}
        if a is not None or b is not None:
            rows.append([client, fmt(a and a / 1024, 1), fmt(b and b / 1024, 1), fmt(per_conn, 1)])
    short, long_ = rss("loadgate", "short"), rss("loadgate", "long")
    growth = ratio(long_, short)
    summary["loadgate"].update({"rss_kb_short": short, "rss_kb_long": long_, "long_over_short": growth})

    print(f"memory: peak RSS, closed model, {cfg['duration_s']} s runs")
    print(table(["client", f"{lo} conns MB", f"{hi} conns MB", "KB per connection"], rows))
    print("(target for loadgate: ≤ 16 KB per connection)")
    print()
    print(
        f"run length, loadgate at {lo} connections: {cfg['short_s']} s {fmt(short and short / 1024, 1)} MB, "
        f"{cfg['long_s']} s {fmt(long_ and long_ / 1024, 1)} MB; "
        f"ratio {fmt(growth, 3)} (target ≤ 1.05)"
    )
    return summary


def expected_stall_p99_ms(rate, freeze_s, requests):
    """The p99 that a correct open-model client reports when the server freezes once.

    Requests are scheduled every 1/rate s whatever the server does. During a freeze of T seconds,
    rate*T of them are scheduled; the one scheduled at t after the freeze began waits until the
    server resumes, so its latency (measured from its scheduled send) is T - t: uniform on [0, T].
    The backlog drains in well under a millisecond at nginx's ~80k req/s, so that is all.
    Of N requests in total, the fraction delayed is f = rate*T/N, and the fraction delayed by more
    than x is f*(T - x)/T. The p99 is the x where that fraction is 1 %:
        f*(T - x)/T = 0.01   =>   x = T*(1 - 0.01/f)        (when f > 0.01)
    e.g. 10 s at any rate with T = 0.5 s: f = 0.05, p99 = 0.5 s * 0.8 = 400 ms. When f <= 0.01 the
    stall hides below the p99, which is then the server's normal latency (returned as None).
    Every other request is counted at its service time (~0.1 ms), which this ignores."""
    if not requests:
        return None, None
    f = rate * freeze_s / requests
    if f <= 0.01:
        return None, f
    return freeze_s * (1.0 - 0.01 / f) * 1000.0, f


def summarize_stall(runs, cfg):
    r = runs[0]
    expected, f = expected_stall_p99_ms(cfg["rate"], r["freeze_s"], r["requests"])
    summary = {
        "p99_ms": r["p99_ms"],
        "expected_p99_ms": expected,
        "ratio": ratio(r["p99_ms"], expected),
        "fraction_delayed": f,
        "freeze_s": r["freeze_s"],
        "freeze_at_s": r["freeze_at_s"],
        "requests": r["requests"],
        "dropped": r["dropped"],
        "max_ms": r["max_ms"],
        "worst_second": r.get("worst_second"),
    }
    print(
        f"stall: open model at {cfg['rate']}/s for {cfg['duration_s']} s; nginx frozen "
        f"{r['freeze_s'] * 1000:.1f} ms (SIGSTOP/SIGCONT) {r['freeze_at_s']:.1f} s after the start"
    )
    rows = [
        ["loadgate", fmt(r["p99_ms"], 1), fmt(expected, 1), fmt(summary["ratio"], 3),
         fmt(r["max_ms"], 1), str(r["requests"]), str(r["dropped"])]
    ]
    print(table(["client", "p99 ms", "expected p99 ms", "ratio", "max ms", "requests", "dropped"], rows))
    if expected is None:
        print("the stall delayed ≤ 1 % of the requests: it cannot show in the p99 (lengthen the freeze)")
    else:
        print(f"(fraction of requests delayed f = {f:.4f}; target: ratio within 0.90–1.10)")
    ws = r.get("worst_second")
    if ws:
        print(f"worst timeline second: t={ws['t']} s, p99 {fmt(ws['p99_ms'], 1)} ms")
    return summary


def summarize_pacing(runs, cfg):
    r = runs[0]
    achieved = r["requests"] / r["duration_s"] if r["duration_s"] else None
    deviation = (achieved / cfg["rate"] - 1.0) * 100.0 if achieved is not None else None
    lag = r.get("sched_lag") or {}
    summary = {
        "target_rate": cfg["rate"],
        "achieved_rate": achieved,
        "deviation_pct": deviation,
        "requests": r["requests"],
        "dropped": r["dropped"],
        "duration_s": r["duration_s"],
        "sched_lag_p50_ms": lag.get("p50_ms"),
        "sched_lag_p99_ms": lag.get("p99_ms"),
        "sched_lag_field": lag.get("field"),
        "cpu_us_per_req": r["cpu_us_per_req"],
        "cpu_util": r["cpu_util"],
        "p50_ms": r["p50_ms"],
        "p99_ms": r["p99_ms"],
    }

    def us(ms):
        return fmt(ms * 1000.0, 0) if ms is not None else "n/a"

    print(f"pacing: open model at {cfg['rate']}/s for {cfg['duration_s']} s against nginx")
    rows = [
        ["loadgate", fmt(achieved, 1), fmt(deviation, 2), str(r["dropped"]), us(lag.get("p50_ms")),
         us(lag.get("p99_ms")), fmt(r["cpu_us_per_req"], 2), fmt(r["cpu_util"], 2),
         fmt(r["p50_ms"], 3), fmt(r["p99_ms"], 3)]
    ]
    print(table(["client", "achieved req/s", "vs target %", "dropped", "lag p50 µs", "lag p99 µs",
                 "CPU µs/req", "CPU (cores)", "p50 ms", "p99 ms"], rows))
    print("(targets: achieved rate within 1 % of the target; scheduling lag p99 ≤ 200 µs)")
    if not lag:
        print("results.json carries no scheduling lag (no `sched_lag` field): n/a")
    return summary


SUMMARIZERS = {
    "throughput": summarize_throughput,
    "memory": summarize_memory,
    "stall": summarize_stall,
    "pacing": summarize_pacing,
    "realistic": summarize_realistic,
}


# ---------------------------------------------------------------------------------------------
# Machine description, so a figure can be quoted with what it was measured on


def command_output(args):
    try:
        p = subprocess.run(args, capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    text = (p.stdout + p.stderr).strip()
    return text.splitlines()[0] if text else None


def machine():
    model = None
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "kernel": platform.release(),
        "wrk": command_output(["wrk", "--version"]),
        "nginx": command_output([os.environ.get("NGINX_BIN", "nginx"), "-v"]),
        "loadgate": command_output([os.environ.get("LOADGATE_BIN", "loadgate"), "--version"]),
        "commit": command_output(["git", "describe", "--always", "--dirty"]),
    }


# ---------------------------------------------------------------------------------------------
# Commands


def free_port():
    # The port is released before nginx binds it; bench.sh retries with another if it was taken.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        print(s.getsockname()[1])


def freeze(pid, seconds):
    """Stop and resume a process, timing the freeze on the monotonic clock so that the expected
    p99 uses the stall that really happened, not the one asked for."""
    start = time.monotonic()
    os.kill(pid, signal.SIGSTOP)
    try:
        time.sleep(seconds)
    finally:
        os.kill(pid, signal.SIGCONT)
        print(f"{time.monotonic() - start:.6f}")


def summarize(mode, runs_path, out_path):
    with open(runs_path, encoding="utf-8") as f:
        records = [json.loads(line) for line in f if line.strip()]
    cfg = json.loads(os.environ.get("BENCH_CONFIG", "{}"))
    runs = [load_run(rec) for rec in records]
    for r in runs:
        # Paths into the bench's temp dir, which is gone by the time anyone reads this.
        for k in ("time", "wrk", "results"):
            r.pop(k, None)
    if not runs:
        raise BenchError(f"no runs recorded for {mode}")
    summary = SUMMARIZERS[mode](runs, cfg)
    warn_errors(runs)
    doc = {
        "mode": mode,
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": machine(),
        "config": cfg,
        "summary": summary,
        "runs": runs,
    }
    os.makedirs(os.path.dirname(out_path) or ".", exist_ok=True)
    with open(out_path, "w", encoding="utf-8") as f:
        f.write(json.dumps(doc, sort_keys=True) + "\n")
    print(f"\n-> {out_path}")


def main(argv):
    try:
        if argv[:1] == ["free-port"]:
            free_port()
        elif argv[:1] == ["freeze"] and len(argv) == 3:
            freeze(int(argv[1]), float(argv[2]))
        elif argv[:1] == ["summarize"] and len(argv) == 4 and argv[1] in SUMMARIZERS:
            summarize(argv[1], argv[2], argv[3])
        else:
            print(__doc__, file=sys.stderr)
            return 2
    except BenchError as e:
        print(f"bench: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
