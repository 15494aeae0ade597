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


def test_real_material_build_maps_caps_and_guards(tmp_path):
    """The shared real material → service examples: the city's category picks the service, a
    row without a mapped category goes to its agency's nearest service, the per-service cap
    holds, duplicates go, and a near-copy of a guard (eval) text is dropped."""
    from bot.nlu.import_cases import build_real

    train = tmp_path / "train"
    train.mkdir()
    light = "路燈故障(一)"
    kcg = [{"agency": "PWB", "category": light, "text": f"該處第{i}盞路燈故障不亮，巷弄昏暗"} for i in range(6)]
    kcg += [{"agency": "PWB", "category": "路燈故障(一)", "text": "該處第0盞路燈故障不亮，巷弄昏暗"}]  # duplicate
    kcg += [{"agency": "WRB", "category": "沒有這類別", "text": "該處水溝蓋破損，機車經過會跳動"}]
    kcg += [{"agency": "EPB", "category": "噪音", "text": "樓下夜市攤商的喇叭叭噗聲每晚吵到半夜十二點"}]
    (train / "kcg1999_train.jsonl").write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in kcg),
                                               encoding="utf-8")
    (train / "taipei_qa.jsonl").write_text(json.dumps({"agency": "LAB", "text": "老闆積欠薪資不發要去哪裡申訴？"},
                                                      ensure_ascii=False), encoding="utf-8")
    guard = tmp_path / "eval"
    guard.mkdir()
    near = {"agency": "EPB", "text": "樓下夜市攤商的喇叭叭噗聲每晚吵到半夜十二點!"}
    (guard / "dev.jsonl").write_text(json.dumps(near, ensure_ascii=False) + "\n", encoding="utf-8")
    mapping = tmp_path / "mapping.yml"
    mapping.write_text(yaml.safe_dump({"kcg1999_category": {light: "street_light_out", "噪音": "noise_business"},
                                       "cap_per_service": {"kcg1999": 4, "taipei_qa": 10}}, allow_unicode=True),
                       encoding="utf-8")
    out = tmp_path / "examples"
    counts = build_real(train, out, guard, mapping)
    assert counts["kcg1999"]["near_copies"] == 1 and counts["kcg1999"]["duplicates"] == 1
    assert counts["kcg1999"]["by_agency"] == {"PWB": 4, "WRB": 1}
    doc = yaml.safe_load((out / "kcg1999.yml").read_text(encoding="utf-8"))
    blocks = {b["intent"]: b for b in doc["nlu"]}
    assert set(blocks) == {"street_light_out", "drain_cover_damage"}
    assert blocks["street_light_out"]["metadata"] == {"source": "kcg1999"}
    assert blocks["street_light_out"]["examples"].count("\n- ") + 1 == 4
    assert "喇叭" not in (out / "kcg1999.yml").read_text(encoding="utf-8")
    taipei = yaml.safe_load((out / "taipei_qa.yml").read_text(encoding="utf-8"))
    assert [b["intent"] for b in taipei["nlu"]] == ["labor_dispute"]


def test_real_build_refuses_without_the_guard(tmp_path):
    proc = subprocess.run([str(ROOT / ".venv/bin/python"), "-m", "bot.nlu.import_cases", "--real",
                           "--guard-dir", str(tmp_path / "nope"), "--out-dir", str(tmp_path / "out")],
                          capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert proc.returncode == 2 and not (tmp_path / "out").exists()
