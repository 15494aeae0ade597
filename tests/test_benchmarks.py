"""The benchmarks run (on a small slice) and produce their figures; their numbers are
judged in benchmarks/README.md, not here."""

import json
import subprocess

from tests.conftest import ROOT


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
