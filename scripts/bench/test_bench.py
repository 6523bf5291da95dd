"""Tests of bench.py's parsing and arithmetic: python3 -m unittest discover scripts/bench"""

import json
import os
import tempfile
import unittest

import bench

WRK = """Running 1s test @ http://127.0.0.1:43227/
  1 threads and 50 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     1.29ms    1.88ms  12.50ms   84.44%
    Req/Sec    59.85k     4.04k   64.82k    70.00%
  Latency Distribution
     50%  313.00us
     75%    1.83ms
     90%    4.12ms
     99%    1.02s
  60263 requests in 1.01s, 8.22MB read
  Socket errors: connect 0, read 2, write 0, timeout 1
  Non-2xx or 3xx responses: 4
Requests/sec:  59416.84
Transfer/sec:      8.10MB
"""


class Files(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()

    def tearDown(self):
        self.dir.cleanup()

    def write(self, name, text):
        path = os.path.join(self.dir.name, name)
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        return path


class ParseWrk(Files):
    def test_reads_counts_percentiles_and_errors(self):
        out = bench.parse_wrk(self.write("wrk.out", WRK))
        self.assertEqual(out["requests"], 60263)
        self.assertAlmostEqual(out["duration_s"], 1.01)
        self.assertAlmostEqual(out["rps"], 59416.84)
        self.assertAlmostEqual(out["p50_ms"], 0.313)
        self.assertAlmostEqual(out["p99_ms"], 1020.0)
        self.assertEqual(out["errors"], 7)

    def test_output_without_latency_distribution_is_an_error(self):
        text = "\n".join(line for line in WRK.splitlines() if "%  " not in line)
        with self.assertRaises(bench.BenchError):
            bench.parse_wrk(self.write("wrk.out", text))


class ParseTime(Files):
    def test_figures_follow_a_non_zero_exit_line(self):
        path = self.write("t", "Command exited with non-zero status 1\n0.41 0.25 23776 1.16\n")
        out = bench.parse_time_file(path)
        self.assertAlmostEqual(out["cpu_s"], 0.66)
        self.assertEqual(out["rss_kb"], 23776)
        self.assertAlmostEqual(out["wall_s"], 1.16)

    def test_garbage_is_an_error(self):
        with self.assertRaises(bench.BenchError):
            bench.parse_time_file(self.write("t", "Command terminated by signal 9\n"))


class ParseResults(Files):
    def test_summary_lag_and_worst_second(self):
        doc = {
            "duration_s": 10.0,
            "total": {"requests": 100000, "errors": 0, "dropped": 3, "rps": 10000.0,
                      "response_time_ms": {"p50": 0.2, "p99": 401.0, "max": 500.0}},
            "engine": {"sched_lag_us": {"p50": 15, "p99": 180}},
            "timeline": [{"t": 2, "p99_ms": 0.4}, {"t": 3, "p99_ms": 450.0}],
            "warnings": ["generator saturated"],
        }
        out = bench.parse_results(self.write("results.json", json.dumps(doc)))
        self.assertEqual(out["dropped"], 3)
        self.assertAlmostEqual(out["sched_lag"]["p99_ms"], 0.18)
        self.assertEqual(out["worst_second"]["t"], 3)
        self.assertEqual(out["warnings"], ["generator saturated"])

    def test_missing_summary_is_an_error(self):
        with self.assertRaises(bench.BenchError):
            bench.parse_results(self.write("results.json", '{"duration_s": 1}'))


class Realistic(Files):
    def test_ratio_per_round_and_the_feed_figures(self):
        def results(name, requests):
            doc = {"duration_s": 10.0,
                   "total": {"requests": requests, "errors": 0, "rps": requests / 10.0,
                             "response_time_ms": {"p50": 0.3, "p99": 1.0}}}
            return self.write(name, json.dumps(doc))

        runs = []
        for r, (static_cpu, real_cpu) in enumerate([(1.0, 1.2), (1.0, 1.1)], start=1):
            for tag, cpu in (("static", static_cpu), ("realistic", real_cpu)):
                time_path = self.write(f"{tag}{r}.time", f"{cpu} 0.0 20480 10.0\n")
                runs.append(bench.load_run({"client": "loadgate", "tag": tag, "round": r,
                                            "time": time_path,
                                            "results": results(f"{tag}{r}.json", 100000)}))
        for tag, wall, rss in (("feed", 0.3, 80 * 1024), ("nofeed", 0.1, 10 * 1024)):
            time_path = self.write(f"{tag}.time", f"0.1 0.0 {rss} {wall}\n")
            runs.append(bench.load_run({"client": "validate", "tag": tag, "round": 1,
                                        "time": time_path}))
        cfg = {"connections": 50, "duration_s": 10, "rounds": 2, "feed_rows": 1000000,
               "feed_bytes": 35 * (1 << 20)}
        summary = bench.summarize_realistic(runs, cfg)
        ratio = summary["cpu_ratio_realistic_over_static"]
        self.assertAlmostEqual(ratio["per_round"]["max"], 1.2)
        self.assertAlmostEqual(ratio["per_round"]["min"], 1.1)
        self.assertAlmostEqual(summary["feed"]["load_s"], 0.2)
        self.assertAlmostEqual(summary["feed"]["rss_over_size"], 2.0)


class Arithmetic(unittest.TestCase):
    def test_expected_stall_p99(self):
        # 10 s at 10k/s with a 500 ms freeze: 5 % delayed, p99 at 80 % of the freeze.
        p99, f = bench.expected_stall_p99_ms(10000, 0.5, 100000)
        self.assertAlmostEqual(f, 0.05)
        self.assertAlmostEqual(p99, 400.0)

    def test_a_stall_under_one_percent_has_no_expected_p99(self):
        p99, f = bench.expected_stall_p99_ms(1000, 0.5, 100000)
        self.assertIsNone(p99)
        self.assertAlmostEqual(f, 0.005)

    def test_lag_units(self):
        self.assertAlmostEqual(bench.sched_lag({"sched_lag": {"p99_us": 200}})["p99_ms"], 0.2)
        self.assertAlmostEqual(bench.sched_lag({"sched_lag_ms": {"p99": 0.3}})["p99_ms"], 0.3)
        self.assertIsNone(bench.sched_lag({"requests": 1}))

    def test_lag_skips_the_encoded_histogram(self):
        doc = {"histograms": {"sched_lag": "HISTFAAAA"}, "generator": {"sched_lag_ms": {"p99": 0.1}}}
        self.assertAlmostEqual(bench.sched_lag(doc)["p99_ms"], 0.1)

    def test_spread(self):
        self.assertEqual(bench.spread([3, None, 1, 2]), {"median": 2, "min": 1, "max": 3})
        self.assertIsNone(bench.spread([None]))


if __name__ == "__main__":
    unittest.main()
