"""The benchmarks run (on a small slice) and produce their figures; their numbers are
judged in benchmarks/README.md, not here."""

import json
import os
import subprocess

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.slow  # starts real processes: tests by cost, README


def test_route_eval_runs_on_a_slice(tmp_path):
    out = tmp_path / "route_eval.json"
    proc = subprocess.run([str(ROOT / ".venv/bin/python"), "benchmarks/route_eval.py", "--limit", "15",
                           "--out", str(out)], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    report = json.loads(out.read_text())
    assert set(report["files"]) == {"kcg1999_citizen", "kcg1999_operator", "kcg_faq"}
    for figures in report["files"].values():
        assert figures["n"] == 15
        assert 0 <= figures["misroute_rate"] <= 1 - figures["top1_agency"] + 1e-9
        assert len(figures["threshold_sweep"]) == 9
    assert report["throughput"]["texts"] == 45
    assert "top1" in proc.stdout


def test_load_benchmark_runs_small(tmp_path):
    """Both channels, two concurrency levels and a short soak, against the real stack."""
    out = tmp_path / "load.json"
    proc = subprocess.run([str(ROOT / ".venv/bin/python"), "benchmarks/load.py", "--seconds", "2",
                           "--max-messages", "12", "--users", "1,4", "--texts", "unique", "--soak", "40",
                           "--soak-users", "4", "--out", str(out)],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-1500:] + proc.stderr[-2000:]
    report = json.loads(out.read_text())
    runs = {(r["channel"], r["users"]): r for r in report["runs"]}
    assert set(runs) == {("web", 1), ("web", 4), ("line", 1), ("line", 4)}
    for r in runs.values():
        assert r["messages"] > 0 and r["errors"] == 0, r
        assert 0 < r["p50_ms"] <= r["p95_ms"] <= r["p99_ms"] <= r["max_ms"]
        assert set(r["rss_mb_after"]) == {"actions", "rasa", "gateway"}
        cpu = r["cpu_ms_per_msg"]
        assert set(cpu) == {"actions", "rasa", "gateway", "load_generator"} and cpu["rasa"] > 0, r
        assert cpu["load_generator"] > 0, r
    assert report["soak"]["rss_mb_samples"][-1]["messages"] == 40


def test_gateway_writes_benchmark_runs_small(tmp_path):
    """The gateway's own writes per message, on a throw-away SQLite file."""
    out = tmp_path / "gateway_writes.json"
    env = {k: v for k, v in os.environ.items() if k not in ("BOT_DATABASE_URL", "BOT_VAR_DIR")}
    proc = subprocess.run([str(ROOT / ".venv/bin/python"), "benchmarks/gateway_writes.py", "--messages", "40",
                           "--users", "4", "--out", str(out)], cwd=ROOT, capture_output=True, text=True, timeout=300,
                          env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    report = json.loads(out.read_text())
    assert report["messages"] == 40 and report["database"] == "sqlite"
    assert 0 < report["cpu_ms_per_message"] and 0 < report["wall_ms_per_message"]
