"""Export the sentence-transformers e5 folder (scripts/build_e5_st.py) to one int8 ONNX file.

models/e5-small-st/onnx/model_qint8.onnx is the one embedding model file the project runs:
youth search reads it through sentence-transformers (bot/youth/encoder.py) and Rasa's
featurizer through ONNX Runtime (bot/nlu/embeddings.py), both with the folder's tokenizer.json.

Steps: the folder's BertModel (fp32, torch) → ONNX (torch.onnx.export, TorchScript exporter, opset
17, dynamic batch and length; inputs input_ids / attention_mask / token_type_ids, output
last_hidden_state, the names optimum uses) → ONNX Runtime dynamic int8 quantisation of the
weights (uint8, per channel: MatMul and the embedding Gather; activations per run) → a check that the int8
vectors match the torch folder's (lowest cosine over mixed texts ≥ MIN_COSINE, else no file).

Idempotent: skips when onnx/.stamp matches the folder's stamp and this script's hash.
Usage: .venv/bin/python scripts/export_e5_onnx.py [--st-dir models/e5-small-st] [--force]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from build_e5_st import CHECK_SENTENCES  # a sibling script: run from scripts/

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_ST = ROOT / "models" / "e5-small-st"
FILE_NAME = "model_qint8.onnx"  # inside <st-dir>/onnx/, where sentence-transformers' ONNX backend looks
OPSET = 17  # ONNX Runtime ≥ 1.14 runs it: the Rasa env's older onnxruntime loads the same file
IR_VERSION = 8  # the IR version of opset 17; newer onnx writers stamp a version old runtimes refuse
MIN_COSINE = 0.98
# build_e5_st's check sentences, plus a one-word, a one-character and a very long text.
SENTENCES = [*CHECK_SENTENCES, "路燈", "好",
             "三民區九如一路和大順路口的紅綠燈壞了，車子都卡在路口，請盡快派人來修理" * 3]


def stamp(st_dir: Path) -> str:
    h = hashlib.sha256(Path(__file__).read_bytes())
    h.update((st_dir / ".stamp").read_bytes())
    return h.hexdigest()[:16]


def export_fp32(st_dir: Path, out: Path) -> None:
    import torch
    from transformers import BertModel

    bert = BertModel.from_pretrained(str(st_dir), attn_implementation="eager").eval()

    class Hidden(torch.nn.Module):
        def __init__(self, model: torch.nn.Module) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids, attention_mask, token_type_ids):  # noqa: ANN001 - traced
            return self.model(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state

    ids = torch.tensor([[0, 1000, 2000, 3000, 2], [0, 1000, 2, 1, 1]], dtype=torch.int64)
    mask = (ids != 1).to(torch.int64)
    names = ["input_ids", "attention_mask", "token_type_ids"]
    with torch.no_grad():
        torch.onnx.export(
            Hidden(bert), (ids, mask, torch.zeros_like(ids)), str(out), dynamo=False,
            input_names=names, output_names=["last_hidden_state"], opset_version=OPSET,
            dynamic_axes={**{n: {0: "batch", 1: "sequence"} for n in names},
                          "last_hidden_state": {0: "batch", 1: "sequence"}},
        )


def quantize(fp32: Path, out: Path) -> None:
    import logging

    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    # uint8 weights and activations (U8U8), one scale per output channel: on CPUs without VNNI
    # (this AMD EPYC) signed weights saturate MLAS's 16-bit sums and cost accuracy (measured: lowest
    # cosine to torch 0.992 signed, 0.995 signed with reduce_range, 0.997 U8U8; same speed).
    # ORT's shape pre-processing (quant_pre_process) changed neither cosine nor speed and took
    # 37 s of set-up, so it is left out (ORT logs that it was not run).
    logging.getLogger().setLevel(logging.ERROR)
    quantize_dynamic(str(fp32), str(out), weight_type=QuantType.QUInt8, per_channel=True)
    model = onnx.load(str(out))
    model.ir_version = min(model.ir_version, IR_VERSION)
    onnx.save(model, str(out))


def check(st_dir: Path, onnx_file: Path) -> tuple[float, float]:
    """Lowest and mean cosine between the int8 file's query vectors and the torch folder's."""
    from sentence_transformers import SentenceTransformer

    sys.path.insert(0, str(ROOT))
    from bot.nlu.embeddings import OnnxE5

    torch_vec = SentenceTransformer(str(st_dir), device="cpu", local_files_only=True).encode(
        SENTENCES, prompt_name="query", normalize_embeddings=True)
    onnx_vec = OnnxE5(onnx_file, st_dir / "tokenizer.json").encode(SENTENCES, "query: ")
    cos = (np.asarray(torch_vec) * onnx_vec).sum(axis=1)
    return float(cos.min()), float(cos.mean())


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--st-dir", type=Path, default=DEFAULT_ST)
    ap.add_argument("--force", action="store_true")
    args = ap.parse_args(argv)
    st_dir: Path = args.st_dir
    if not (st_dir / ".stamp").exists():
        print(f"e5-onnx: {st_dir} not built; run scripts/build_e5_st.py first", file=sys.stderr)
        return 1
    out_dir = st_dir / "onnx"
    target, stamp_file = out_dir / FILE_NAME, out_dir / ".stamp"
    want = stamp(st_dir)
    if not args.force and target.exists() and stamp_file.exists() and stamp_file.read_text().strip() == want:
        print(f"e5-onnx: {target} is current")
        return 0
    t0 = time.perf_counter()
    shutil.rmtree(out_dir, ignore_errors=True)
    with tempfile.TemporaryDirectory(prefix="e5-onnx-") as tmp:
        fp32, q8 = Path(tmp) / "model.onnx", Path(tmp) / FILE_NAME
        export_fp32(st_dir, fp32)
        t_export = time.perf_counter() - t0
        quantize(fp32, q8)
        t_quant = time.perf_counter() - t0 - t_export
        lo, mean = check(st_dir, q8)
        # A file that drifts from the folder would silently change search and routing: refuse it.
        if lo < MIN_COSINE:
            print(f"e5-onnx: int8 cosine vs torch too low (min {lo:.4f}); no file written", file=sys.stderr)
            return 1
        out_dir.mkdir(parents=True)
        shutil.move(str(q8), target)
    info = {
        "file": f"onnx/{FILE_NAME}", "bytes": target.stat().st_size, "opset": OPSET,
        "quantisation": "onnxruntime quantize_dynamic, QUInt8 weights per channel, uint8 activations",
        "cosine_vs_torch_min": round(lo, 5), "cosine_vs_torch_mean": round(mean, 5),
        "export_seconds": round(t_export, 1), "quantise_seconds": round(t_quant, 1),
        "total_seconds": round(time.perf_counter() - t0, 1),
    }
    (out_dir / "export.json").write_text(json.dumps(info, indent=1) + "\n")
    stamp_file.write_text(want + "\n")
    print(f"e5-onnx: wrote {target} ({info['bytes'] >> 20} MB) in {info['total_seconds']} s; "
          f"cosine vs torch min {lo:.4f} mean {mean:.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
