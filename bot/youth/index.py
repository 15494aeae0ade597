"""The youth index: e5 vectors of every programme in FAISS plus BM25 over jieba tokens.

Rebuilt whenever the YAML's content hash changes; the vectors are cached under var/ keyed by
(content hash, encoder), so a restart with an unchanged file costs no encoding at all.
"""

from __future__ import annotations

import hashlib
import logging
import math
import re
import time
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import faiss
import numpy as np

from bot.config import settings
from bot.youth import kb
from bot.youth.encoder import Encoder

log = logging.getLogger("bot.youth")
INDEX_VERSION = "1"  # bump when passage() or tokenisation changes
# Words that carry no signal about which programme is meant (asked in almost every question).
STOP = set(
    "我 你 想 要 的 了 嗎 吗 呢 吧 有 沒 沒有 可以 能 能不能 請問 怎麼 如何 什麼 哪些 是 在 和 或 或是 與 及 有沒有 "  # noqa: E501 - one pattern per line reads best
    "一下 這 那 個 嗎? 嗎？ 想要 需要 申請 補助嗎 哪裡 誰 自己 今年 歲 高雄 高雄市 is the a an i to for in of and "  # noqa: E501 - one pattern per line reads best
    "or my me can do how what any there are want".split()
)
_PUNCT = re.compile(r"^[\W_]+$")


@lru_cache(maxsize=1)
def _jieba():
    import jieba

    tok = jieba.Tokenizer()  # our own instance: the user words below must not leak into others
    jieba.setLogLevel(logging.WARNING)
    return tok


def tokens(text: str) -> list[str]:
    out = []
    for t in _jieba().cut_for_search(text.lower()):
        t = t.strip()
        if t and t not in STOP and not _PUNCT.match(t):
            out.append(t)
    return out


class BM25:
    def __init__(self, docs: list[list[str]], k1: float = 1.2, b: float = 0.75) -> None:
        self.k1, self.b = k1, b
        self.tf = [Counter(d) for d in docs]
        self.len = np.array([len(d) for d in docs], dtype=np.float32)
        self.avg = float(self.len.mean()) if len(docs) else 1.0
        df = Counter(t for d in docs for t in set(d))
        n = len(docs)
        self.idf = {t: math.log(1 + (n - c + 0.5) / (c + 0.5)) for t, c in df.items()}

    def scores(self, query: list[str]) -> np.ndarray:
        out = np.zeros(len(self.tf), dtype=np.float32)
        for t in set(query):
            idf = self.idf.get(t)
            if idf is None:
                continue
            for i, tf in enumerate(self.tf):
                f = tf.get(t)
                if f:
                    out[i] += idf * f * (self.k1 + 1) / (f + self.k1 * (1 - self.b + self.b * self.len[i] / self.avg))
        return out


@dataclass
class Index:
    programs: list[kb.Program]
    vectors: np.ndarray
    faiss: faiss.Index
    bm25: BM25
    content_hash: str
    encoder: str
    build_seconds: float

    def dense(self, qvecs: np.ndarray) -> np.ndarray:
        """(nq, n_programs) cosine, in programme order (FAISS returns by rank; we scatter back)."""
        n = len(self.programs)
        sims, ids = self.faiss.search(np.ascontiguousarray(qvecs, dtype=np.float32), n)
        out = np.zeros((qvecs.shape[0], n), dtype=np.float32)
        np.put_along_axis(out, ids, sims, axis=1)
        return out


def _keyword_doc(p: kb.Program) -> list[str]:
    # Title and curated keywords count twice: they are how people name the programme.
    title = p.title["zh"] + " " + p.title.get("en", "")
    kw = " ".join(p.keywords)
    return tokens(title) * 2 + tokens(kw) * 2 + tokens(p.summary) + tokens(p.benefit.get("text", ""))


def build(path: Path, enc: Encoder, cache_dir: Path | None = None) -> Index:
    start = time.perf_counter()
    programs = kb.load(path)
    digest = kb.content_hash(path)
    jb = _jieba()
    for p in programs:  # curated words become single tokens ("早餐店", "青創貸款")
        for w in (*p.keywords, p.title["zh"]):
            if not w.isascii():
                jb.add_word(w.lower(), freq=2000)
    cache_dir = cache_dir or settings().var_dir / "youth_index"
    safe_enc = re.sub(r"[^\w.-]", "_", enc.name)
    # Vectors are cached per passage text, so a staff edit re-encodes only what it changed.
    cache = cache_dir / f"vectors-{safe_enc}-v{INDEX_VERSION}.npz"
    known: dict[str, np.ndarray] = dict(np.load(cache)) if cache.exists() else {}
    passages = [p.passage() for p in programs]
    keys = [hashlib.sha256(t.encode()).hexdigest()[:24] for t in passages]
    todo = [i for i, k in enumerate(keys) if k not in known]
    if todo:
        for i, vec in zip(todo, enc.passage([passages[i] for i in todo])):
            known[keys[i]] = vec
        try:
            cache_dir.mkdir(parents=True, exist_ok=True)
            tmp = cache.with_name(cache.stem + ".tmp.npz")
            np.savez(tmp, **{k: known[k] for k in keys})  # only live passages: the file stays small
            tmp.replace(cache)
        except OSError as exc:  # a read-only var/ only costs re-encoding next start
            log.warning("youth index cache not written: %s", exc)
    vectors = np.stack([known[k] for k in keys]).astype(np.float32)
    fidx = faiss.IndexFlatIP(vectors.shape[1])  # 30 programmes: exact search is microseconds
    fidx.add(np.ascontiguousarray(vectors, dtype=np.float32))
    bm25 = BM25([_keyword_doc(p) for p in programs])
    took = time.perf_counter() - start
    log.info("youth index %s: %d programmes in %.2f s (%s)", digest, len(programs), took, enc.name)
    return Index(programs, vectors, fidx, bm25, digest, enc.name, took)
