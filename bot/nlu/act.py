"""What the citizen wants done with a topic: ask (`question`), have it fixed (`report`), apply
(`application`); the routing contract's `act` (DESIGN.md), decided apart from the topic.

"垃圾車幾點來" and "垃圾車沒來收" are the same service and the same agency; the first wants the
agency's facts, the second a case. A small classifier reads the text (character n-grams,
TF-IDF, multinomial logistic regression) and the service's `kind` weighs its answer
(`nlu_data/act/priors.yml`): an application is rare on a report service, a report rare on an
inquiry one. Emergencies, chit-chat and the hand-over are decided by the router's intent,
not here.

Training data (`nlu_data/act/`, see its README): real FAQ questions and real 1999 reports,
plus a paired set written for the project (the same topic as a question and as a report, in
several styles and languages) so the model learns the act, not the sources' writing style.
The model is trained with scikit-learn (`python -m bot train`, or on first use) and kept as
plain arrays in `models/act-<data hash>.npz`; predicting needs only numpy, so it is fast
(about 0.1 ms a text) and loads in either environment.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import re
import threading
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import yaml

from bot.catalogue import ROOT
from bot.config import settings
from bot.nlu import normalise
from bot.nlu.normalise import normalise_text

if TYPE_CHECKING:  # pragma: no cover
    from bot.catalogue import Catalogue
    from bot.nlu.router import Decision

log = logging.getLogger("bot.nlu.act")

ACTS = ("question", "report", "application")
QUESTION, REPORT, APPLICATION = ACTS
EMERGENCY, CHITCHAT, HANDOFF = "emergency", "chitchat", "handoff"
HANDOFF_SERVICE = "human_handoff"
DATA_DIR = ROOT / "nlu_data" / "act"
# Not BOT_MODELS_DIR: that holds the Rasa models the retrain job swaps; this one follows only
# nlu_data/act/, and a stack started on another models folder (tests) reuses it.
MODELS_DIR = settings().act_models_dir
# Own examples count more than one real row each: there are ~500 of them against ~5,200 real
# rows, and they are the only ones where a question and a report share a topic and a style:
# the real reports are mostly street lights and roads, so without this weight "路燈" itself
# reads as a report and "路燈壞了多久會修好" is filed as one.
OWN_WEIGHT = 8.0
C = 4.0  # inverse regularisation; C and OWN_WEIGHT chosen by grouped cross-validation on the paired train part
# Code that shapes the model: a change here trains a new one.
_VERSION = "1"

_LATIN = re.compile(r"[a-z0-9']+")


def features(text: str) -> list[str]:
    """Character 1–3-grams of the text with its ends marked (a final 嗎 or ？ matters), and
    English words and word pairs. Used for training and predicting alike."""
    t = normalise_text(text).lower()
    if not t:
        return []
    padded = f"^{t}$"
    out = [padded[i:i + n] for n in (1, 2, 3) for i in range(len(padded) - n + 1)]
    words = _LATIN.findall(t)
    out += [f"w:{w}" for w in words]
    out += [f"w:{a}_{b}" for a, b in zip(words, words[1:])]
    if words[:1]:
        out.append(f"w0:{words[0]}")  # "how ...", "my ...", "there is ..."
    return out


@dataclass(frozen=True)
class Example:
    text: str
    act: str
    source: str  # "own", "paired", or the real file's name
    style: str = ""
    topic: str = ""
    pair: int = -1  # paired set: the pair's number (question and report share it)


def _rows(name: str) -> list[list[str]]:
    out = []
    for line in (DATA_DIR / name).read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            out.append([part.strip() for part in line.split(" | ")])
    return out


def paired(split: str) -> list[Example]:
    """The paired set's `train` or `heldout` part: both sides of every pair."""
    out = []
    for i, (sp, topic, style, question, report) in enumerate(_rows("paired.txt")):
        if sp == split:
            out.append(Example(question, QUESTION, "paired", style, topic, i))
            out.append(Example(report, REPORT, "paired", style, topic, i))
    return out


def own(split: str) -> list[Example]:
    return [Example(text, act, "own", style) for sp, act, style, text in _rows("own.txt") if sp == split]


def real() -> list[Example]:
    rows = [json.loads(line) for line in (DATA_DIR / "real.jsonl").read_text(encoding="utf-8").splitlines()
            if line.strip()]
    return [Example(r["text"], r["act"], r["source"]) for r in rows]


_FINAL_MARK = re.compile(r"[?？]+$")


def _unmarked(examples: list[Example], every: int) -> list[Example]:
    """Copies of every `every`-th question without its final question mark. Nearly every real
    FAQ question ends in ？ and no real report does, so without these the model learns the
    mark, and "垃圾車幾點來" typed on a phone, without one, reads as a report."""
    marked = [e for e in examples if e.act == QUESTION and _FINAL_MARK.search(e.text)]
    return [Example(_FINAL_MARK.sub("", e.text), e.act, e.source, e.style, e.topic, e.pair) for e in marked[::every]]


def training_examples() -> list[Example]:
    rows, mine = real(), [*paired("train"), *own("train")]
    return [*rows, *_unmarked(rows, 2), *mine, *_unmarked(mine, 1)]


def data_hash() -> str:
    h = hashlib.sha256(_VERSION.encode())
    for name in ("paired.txt", "own.txt", "real.jsonl"):
        h.update((DATA_DIR / name).read_bytes())
    h.update(Path(__file__).read_bytes())
    h.update(Path(normalise.__file__).read_bytes())  # the form the examples are learnt in
    return h.hexdigest()[:16]


def model_file(digest: str | None = None) -> Path:
    return MODELS_DIR / f"act-{digest or data_hash()}.npz"


class Model:
    """The fitted TF-IDF + logistic regression as arrays: vocabulary, idf, weights."""

    def __init__(self, vocab: dict[str, int], idf: np.ndarray, coef: np.ndarray, intercept: np.ndarray,
                 classes: tuple[str, ...]) -> None:
        self.vocab, self.idf, self.coef, self.intercept, self.classes = vocab, idf, coef, intercept, classes

    def proba(self, text: str) -> dict[str, float]:
        counts = Counter(f for f in features(text) if f in self.vocab)
        if not counts:
            scores = self.intercept.copy()
        else:
            idx = np.fromiter((self.vocab[f] for f in counts), dtype=np.int64, count=len(counts))
            # sublinear tf, idf, l2 norm: exactly what TfidfVectorizer did at training time
            tf = np.fromiter((1.0 + math.log(c) for c in counts.values()), dtype=np.float64, count=len(counts))
            x = tf * self.idf[idx]
            x /= np.linalg.norm(x) or 1.0
            scores = self.coef[:, idx] @ x + self.intercept
        scores = np.exp(scores - scores.max())
        scores /= scores.sum()
        return {c: float(p) for c, p in zip(self.classes, scores)}

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        terms = sorted(self.vocab, key=self.vocab.__getitem__)
        tmp = path.with_suffix(".tmp.npz")
        np.savez_compressed(tmp, terms=np.array(terms), idf=self.idf, coef=self.coef, intercept=self.intercept,
                            classes=np.array(self.classes))
        tmp.replace(path)  # atomic: a second process never loads half a file

    @classmethod
    def load(cls, path: Path) -> Model:
        with np.load(path, allow_pickle=False) as z:
            vocab = {str(t): i for i, t in enumerate(z["terms"])}
            return cls(vocab, z["idf"], z["coef"], z["intercept"], tuple(str(c) for c in z["classes"]))


def fit(examples: list[Example], c: float = C) -> Model:
    """Train on `examples` (needs scikit-learn, in the gateway environment)."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    vec = TfidfVectorizer(analyzer=features, sublinear_tf=True, min_df=2)
    x = vec.fit_transform([e.text for e in examples])
    y = [e.act for e in examples]
    weights = [OWN_WEIGHT if e.source in ("own", "paired") else 1.0 for e in examples]
    clf = LogisticRegression(C=c, max_iter=2000, class_weight="balanced")
    clf.fit(x, y, sample_weight=weights)
    classes = tuple(str(k) for k in clf.classes_)
    coef, intercept = clf.coef_, clf.intercept_
    if len(classes) == 2:  # binary LR keeps one row; spell out both for the softmax
        coef = np.vstack([-coef[0] / 2, coef[0] / 2])
        intercept = np.array([-intercept[0] / 2, intercept[0] / 2])
    vocab = {str(k): int(v) for k, v in vec.vocabulary_.items()}
    return Model(vocab, np.asarray(vec.idf_, dtype=np.float64), np.asarray(coef, dtype=np.float64),
                 np.asarray(intercept, dtype=np.float64), classes)


_lock = threading.Lock()


def ensure(force: bool = False) -> Path:
    """The model file for the data as it is now, trained if missing (`python -m bot train`)."""
    path = model_file()
    with _lock:
        if force or not path.exists():
            log.info("training the act classifier %s", path.name)
            fit(training_examples()).save(path)
            for old in MODELS_DIR.glob("act-*.npz"):
                if old != path:
                    old.unlink(missing_ok=True)
    return path


@lru_cache(maxsize=1)
def model() -> Model:
    """The model for the data as it was when first asked (the data hash reads ~1 MB: once a
    process, not once a message; the act data changes only with a deploy)."""
    return Model.load(ensure())


@lru_cache(maxsize=1)
def priors() -> dict[str, dict[str, float]]:
    """How likely each act is on a service of each kind (staff-editable YAML)."""
    data = yaml.safe_load((DATA_DIR / "priors.yml").read_text(encoding="utf-8")) or {}
    return {kind: {a: float(v) for a, v in row.items()} for kind, row in (data.get("kinds") or {}).items()}


def classify(text: str, kind: str | None = None) -> tuple[str, dict[str, float]]:
    """The act of `text` on a service of `kind` (None: no service known), with the weighed
    probabilities, best first."""
    probs = model().proba(text)
    prior = priors().get(kind or "", {})
    weighed = {a: p * prior.get(a, 1.0) for a, p in probs.items()}
    total = sum(weighed.values()) or 1.0
    ranked = dict(sorted(((a, p / total) for a, p in weighed.items()), key=lambda ap: ap[1], reverse=True))
    return next(iter(ranked)), ranked


def of_button(kind: str) -> str:
    """A quick-reply press ("/road_pothole") has no words: the service's kind says the act."""
    return {"report": REPORT, "application": APPLICATION}.get(kind, QUESTION)


def act_of(text: str, decision: Decision, cat: Catalogue) -> str:
    """The routing contract's `act` for a decision of bot.nlu.router."""
    if decision.emergency:
        return EMERGENCY
    svc = cat.services.get(decision.service)
    if svc is not None and svc.id == HANDOFF_SERVICE:
        return HANDOFF
    if svc is not None and svc.kind == "chitchat" and not decision.clarify:
        return CHITCHAT
    kind = svc.kind if svc is not None and not decision.clarify else None
    if text.startswith("/") and kind:
        return of_button(kind)
    return classify(text, kind)[0]
