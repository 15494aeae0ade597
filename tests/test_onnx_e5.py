"""The one embedding model file (issue #22 item 3): models/e5-small-st/onnx/model_qint8.onnx,
exported at set-up (scripts/export_e5_onnx.py), run by youth search through sentence-transformers
and by Rasa's featurizer through ONNX Runtime (bot/nlu/embeddings.py).

The int8 vectors are compared with the fp32 folder on torch (the reference the file was made
from), the two runners with each other, and the Rasa environment's with ours."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from bot.nlu import embeddings
from bot.youth import encoder as youth_encoder

ROOT = Path(__file__).resolve().parent.parent
TEXTS = [
    "巷口路燈不亮",
    "我28歲想在鳳山開早餐店，有沒有補助或貸款",
    "青年創業貸款利息補貼怎麼申請",
    "student internship summer",
    "我想申请青年创业贷款",
    "三民區九如一路和大順路口的紅綠燈壞了，車子都卡在路口，請盡快派人來修理",
]


@pytest.fixture(scope="module")
def onnx_st():
    assert embeddings.ONNX_FILE.exists(), "set-up makes the file: scripts/export_e5_onnx.py"
    return youth_encoder.sentence_transformer("onnx")


@pytest.fixture(scope="module")
def torch_st():
    return youth_encoder.sentence_transformer("torch")


def test_int8_file_matches_the_torch_folder(onnx_st, torch_st) -> None:
    for prompt in ("query", "passage"):
        a = onnx_st.encode(TEXTS, prompt_name=prompt, normalize_embeddings=True)
        b = torch_st.encode(TEXTS, prompt_name=prompt, normalize_embeddings=True)
        cos = (a * b).sum(axis=1)
        assert cos.min() >= 0.98, (prompt, cos)
    # ... and the file is not trivially close: other texts are clearly farther apart.
    assert float((a[0] * b[1]).sum()) < 0.95


def test_youth_search_and_rasa_runner_give_the_same_vectors(onnx_st) -> None:
    via_st = onnx_st.encode(TEXTS, prompt_name="query", normalize_embeddings=True)
    via_ort = embeddings.encoder("e5")(TEXTS)
    assert via_ort.shape == (len(TEXTS), 384)
    np.testing.assert_allclose(via_ort, via_st, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(via_ort, axis=1), 1.0, atol=1e-5)


def test_a_text_gets_the_same_vector_alone_and_padded_in_a_batch() -> None:
    model = embeddings.model()
    alone = model.encode([TEXTS[0]])
    batched = model.encode(TEXTS)  # padded to the longest text of the batch
    assert float((alone[0] * batched[0]).sum()) > 0.9999


def test_prompts_matter() -> None:
    model = embeddings.model()
    q, p = model.encode([TEXTS[2]], "query: "), model.encode([TEXTS[2]], "passage: ")
    assert 0.8 < float((q * p).sum()) < 0.999


def test_empty_input_and_long_text() -> None:
    model = embeddings.model()
    assert model.encode([]).shape == (0, 384)
    long = model.encode(["路燈不亮" * 400])  # 1,600+ characters: truncated to 510 tokens, not an error
    assert abs(float(np.linalg.norm(long)) - 1.0) < 1e-5


def test_missing_file_is_a_clear_error(tmp_path, monkeypatch) -> None:
    with pytest.raises(embeddings.MissingModel, match="export_e5_onnx.py"):
        embeddings.session(tmp_path / "model_qint8.onnx")
    monkeypatch.setattr(youth_encoder, "ONNX_FILE", tmp_path / "model_qint8.onnx")
    monkeypatch.setenv("BOT_YOUTH_ENCODER", "onnx")
    youth_encoder.get_encoder.cache_clear()
    try:
        with pytest.raises(RuntimeError, match="export_e5_onnx.py"):
            youth_encoder.get_encoder()
    finally:
        youth_encoder.get_encoder.cache_clear()


def test_only_e5_is_known() -> None:
    with pytest.raises(ValueError, match="unknown embedding model 'use'"):
        embeddings.encoder("use")


def test_export_is_recorded_and_skipped_when_current() -> None:
    info = json.loads((embeddings.ONNX_FILE.parent / "export.json").read_text())
    assert info["cosine_vs_torch_min"] >= 0.98 and info["opset"] == 17
    before = embeddings.ONNX_FILE.stat().st_mtime_ns
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "export_e5_onnx.py")], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and "is current" in proc.stdout, proc.stdout + proc.stderr[-2000:]
    assert embeddings.ONNX_FILE.stat().st_mtime_ns == before


FEATURIZE = r'''
import json, sys
from rasa.shared.nlu.training_data.message import Message
from bot.nlu.featurizer import SentenceEmbeddingFeaturizer

texts = json.loads(sys.argv[1])
f = SentenceEmbeddingFeaturizer({**SentenceEmbeddingFeaturizer.get_default_config(), "model": "e5"}, "e5")
msgs = [Message(data={"text": t}) for t in texts]
f.process(msgs)
print(json.dumps([m.get_dense_features("text")[1].features[0].tolist() for m in msgs]))
try:
    SentenceEmbeddingFeaturizer.validate_config({"model": "use"})
    print("use accepted")
except ValueError as e:
    print("use refused:", e)
'''


@pytest.mark.slow  # starts the Rasa environment's Python
def test_rasa_featurizer_runs_the_same_file() -> None:
    """Rasa's env (Python 3.10, numpy 1.23, no torch) featurizes with the same vectors as ours."""
    texts = TEXTS[:3]
    proc = subprocess.run([str(ROOT / ".venv-rasa/bin/python"), "-c", FEATURIZE, json.dumps(texts)], cwd=ROOT,
                          capture_output=True, text=True, timeout=300,
                          env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = proc.stdout.strip().splitlines()
    rasa = np.asarray(json.loads(lines[-2]), dtype=np.float32)
    np.testing.assert_allclose(rasa, embeddings.encoder("e5")(texts), atol=1e-5)
    assert lines[-1].startswith("use refused:"), lines[-1]
