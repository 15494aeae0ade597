"""import-cases: labelled history → training examples of the right services."""

import json
import subprocess

import yaml

from tests.conftest import ROOT

# Written for this test (not from the dev files).
CASES = [
    {"agency": "PWB", "text": "我們巷子裡那支路燈已經不亮快兩週了，晚上很暗"},
    {"agency": "PWB", "text": "路面有一個很深的凹洞，機車經過都會跳起來"},
    {"agency": "XYZ", "text": "不存在的機關"},
    {"agency": "PWB", "text": "短"},
]


def test_import_assigns_services_and_skips_bad_rows(tmp_path):
    src = tmp_path / "history.jsonl"
    src.write_text("\n".join(json.dumps(c, ensure_ascii=False) for c in CASES) + "\nnot json\n", encoding="utf-8")
    proc = subprocess.run([str(ROOT / ".venv/bin/python"), "-m", "bot", "import-cases", str(src),
                           "--out-dir", str(tmp_path / "imported")], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "imported 2 cases" in proc.stdout and "1 bad lines" in proc.stdout
    doc = yaml.safe_load((tmp_path / "imported" / "history.yml").read_text(encoding="utf-8"))
    by_intent = {b["intent"]: b["examples"] for b in doc["nlu"]}
    assert "路燈" in by_intent["street_light_out"]
    assert "凹洞" in by_intent["road_pothole"]


def test_missing_file_is_a_clear_error(tmp_path):
    proc = subprocess.run([str(ROOT / ".venv/bin/python"), "-m", "bot", "import-cases", str(tmp_path / "nope.jsonl")],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "no such file" in proc.stderr
