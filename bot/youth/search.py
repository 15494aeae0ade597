"""Youth search: one function used by the chat, the API and the CLI contract.

score = W_DENSE·cosine + W_KEYWORD·(BM25 / best BM25) + W_CATEGORY·[asked-for category]
Weights were tuned on benchmarks/data/youth_questions.jsonl (benchmarks/youth_eval.py --tune).
Eligibility is a filter: programmes a stated fact rules out leave the ranked list and are
returned separately with the reason, so the chat can say why ("你今年46歲…").
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np

from bot.youth import index as idx
from bot.youth.eligibility import Deadline, Verdict, check, deadline
from bot.youth.encoder import get_encoder
from bot.youth.kb import KB_PATH, Program
from bot.youth.understand import Profile, understand


@dataclass(frozen=True)
class Weights:
    dense: float = 1.0
    keyword: float = 0.15
    category: float = 0.05
    # An identity-specific requirement the asker did not mention (原住民, 身障): rank lower.
    unmet_identity: float = 0.12
    # Best cosine below this (and no category understood): not a youth-programme question.
    min_score: float = 0.86


# farmer, hakka, creator, parent, returning: programmes for one trade or situation (青農, 客庄,
# 藝術家, 育兒租屋, 返鄉地方創生) are not what a young person means unless they say so.
IDENTITY = {"disability", "indigenous", "farmer", "hakka", "creator", "parent", "returning"}


@dataclass
class Hit:
    program: Program
    score: float
    dense: float
    keyword: float
    verdict: Verdict
    deadline: Deadline

    def as_result(self) -> dict[str, Any]:
        return {"program_id": self.program.id, "score": round(float(self.score), 4)}


@dataclass
class Answer:
    profile: Profile
    hits: list[Hit] = field(default_factory=list)
    excluded: list[Hit] = field(default_factory=list)  # ruled out by eligibility, with reasons


class Searcher:
    """Holds the model and the index; reloads the index when the YAML's content changes."""

    def __init__(self, path: Path = KB_PATH, weights: Weights | None = None, cache_dir: Path | None = None) -> None:
        self.path, self.weights, self.cache_dir = path, weights or Weights(), cache_dir
        self.encoder = get_encoder()
        self._lock = threading.Lock()
        self._mtime = -1.0
        self.index = self._refresh()

    def _refresh(self) -> idx.Index:
        # stat() per search is cheap; hashing only when the mtime moved keeps searches fast.
        mtime = self.path.stat().st_mtime
        current = getattr(self, "index", None)
        if current is not None and mtime == self._mtime:
            return current
        with self._lock:
            from bot.youth.kb import content_hash

            if current is None or content_hash(self.path) != current.content_hash:
                self.index = idx.build(self.path, self.encoder, self.cache_dir)
            self._mtime = mtime
            return self.index

    def program(self, program_id: str) -> Program | None:
        return next((p for p in self._refresh().programs if p.id == program_id), None)

    def search_many(
        self, texts: list[str], k: int = 10, today: date | None = None, contexts: list[dict | None] | None = None
    ) -> list[Answer]:
        index = self._refresh()
        today = today or date.today()
        profiles = [understand(t, today).merged((contexts or [None] * len(texts))[i]) for i, t in enumerate(texts)]
        dense = index.dense(self.encoder.query([p.query or " " for p in profiles]))
        return [self._rank(index, prof, dense[i], k, today) for i, prof in enumerate(profiles)]

    def search(self, text: str, k: int = 10, today: date | None = None, context: dict | None = None) -> Answer:
        return self.search_many([text], k, today, [context])[0]

    def _rank(self, index: idx.Index, prof: Profile, dense: np.ndarray, k: int, today: date) -> Answer:
        w = self.weights
        kw = index.bm25.scores(idx.tokens(prof.query))
        kw_norm = kw / kw.max() if kw.max() > 0 else kw
        wanted = set(prof.categories)
        hits: list[Hit] = []
        for i, prog in enumerate(index.programs):
            score = w.dense * float(dense[i]) + w.keyword * float(kw_norm[i])
            if wanted & set(prog.categories):
                score += w.category
            unmet = IDENTITY & set(prog.eligibility.get("requires") or []) - set(prof.conditions)
            if unmet:
                score -= w.unmet_identity
            hits.append(Hit(prog, score, float(dense[i]), float(kw_norm[i]), check(prog, prof), deadline(prog, today)))
        hits.sort(key=lambda h: -h.score)
        # Judged on the cosine alone: the keyword part is normalised to the best match, so it
        # would lift any question that shares one word with a programme.
        if not wanted and (not hits or max(h.dense for h in hits) < w.min_score):
            return Answer(prof)  # not a youth-programme question: say so rather than guess
        if wanted:  # the category is a filter, unless nothing at all is left
            in_cat = [h for h in hits if wanted & set(h.program.categories)]
            hits = in_cat or hits
        ok = [h for h in hits if h.verdict.status != "ineligible"]
        out = [h for h in hits if h.verdict.status == "ineligible"]
        return Answer(prof, ok[:k], out[:k])


_searcher: Searcher | None = None
_slock = threading.Lock()


def searcher() -> Searcher:
    """The process-wide searcher (model loaded once)."""
    global _searcher
    with _slock:
        if _searcher is None:
            _searcher = Searcher()
        return _searcher
