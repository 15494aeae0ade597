"""Round 4 of the emergency detector: does an e5 second opinion help? (issue #17 item 5)

    .venv/bin/python benchmarks/emergency_e5_eval.py [--embed-only]     # the grouped CV (~3 min once embedded)
    .venv/bin/python benchmarks/emergency_e5_eval.py --check FILE.jsonl [--routine]

`--check` scores a JSON-lines batch ({"text", "number"}: 110 / 119, or null for a look-alike), and
with `--routine` the 25,014 real 1999 cases, with every variant trained on the whole set (it needs
the out-of-fold scores of a full run first). Results of round 4: benchmarks/README.md.

Never opens a held-apart set. The same grouped 5-fold cross-validation as
`benchmarks/emergency_eval.py --cv` (folds by section, thresholds for each fold chosen on the other
folds' out-of-fold scores under the same budgets, rules, vetoes and model gate as in use), with the
classifier's score replaced by a combination of the n-gram model's and a logistic regression on
multilingual-e5-small sentence vectors (the project's int8 ONNX file, "query: " prefix, one text
per run as bot/nlu/embeddings.py does), and variants where the e5 model may take back a rule's
alarm. Vectors are cached under var/emergency_e5/ keyed by the text's hash and the ONNX file's
stamp, so a second run embeds nothing. Writes benchmarks/results/emergency_e5.json.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from emergency_eval import wilson  # noqa: E402 - a sibling script: run from benchmarks/

from bot.nlu import emergency, emergency_data, emergency_model  # noqa: E402
from bot.nlu.normalise import normalise_text  # noqa: E402

CACHE_DIR = ROOT / "var" / "emergency_e5"
OUT = ROOT / "benchmarks" / "results" / "emergency_e5.json"
KCG = ROOT.parent / "shared" / "data" / "train" / "kcg1999_train.jsonl"
BUDGETS = {
    "lookalike": emergency_model.BUDGET_LOOKALIKE,
    "services": emergency_model.BUDGET_SERVICES,
    "routine": emergency_model.BUDGET_ROUTINE,
}


# ---- embeddings, cached by text hash ---------------------------------------------------------


def _stamp() -> str:
    from bot.nlu.embeddings import ONNX_FILE

    stamp = ONNX_FILE.parent / ".stamp"
    if stamp.exists():
        return hashlib.sha256(stamp.read_bytes()).hexdigest()[:12]
    return hashlib.sha256(ONNX_FILE.read_bytes()).hexdigest()[:12]


def _key(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:20]


class VectorCache:
    def __init__(self) -> None:
        self.path = CACHE_DIR / f"e5-{_stamp()}.npz"
        self.vectors: dict[str, np.ndarray] = {}
        if self.path.exists():
            data = np.load(self.path)
            self.vectors = dict(zip(data["keys"].tolist(), data["vectors"], strict=True))

    def save(self) -> None:
        CACHE_DIR.mkdir(parents=True, exist_ok=True)
        keys = list(self.vectors)
        tmp = self.path.with_suffix(".tmp.npz")
        np.savez(tmp, keys=np.array(keys), vectors=np.stack([self.vectors[k] for k in keys]))
        tmp.replace(self.path)

    def embed(self, texts: list[str], threads: int = 1) -> np.ndarray:
        from bot.nlu.embeddings import model

        keys = [_key(t) for t in texts]
        todo = sorted({k: t for k, t in zip(keys, texts, strict=True) if k not in self.vectors}.items())
        if todo:
            m = model(threads)
            started = time.perf_counter()
            for start in range(0, len(todo), 256):
                chunk = todo[start : start + 256]
                vecs = m.encode([t for _, t in chunk], "query: ")
                for (k, _), v in zip(chunk, vecs, strict=True):
                    self.vectors[k] = v
                done = start + len(chunk)
                if done % 4096 < 256 or done == len(todo):
                    self.save()
                    rate = done / (time.perf_counter() - started)
                    print(f"  embedded {done}/{len(todo)} ({rate:.0f}/s)", file=sys.stderr, flush=True)
        return np.stack([self.vectors[k] for k in keys])


def _set_key(examples) -> str:
    """The model's key and the normalised texts themselves (the normaliser is not in the model's key)."""
    h = hashlib.sha256(emergency_model.digest().encode())
    for e in examples:
        h.update(f"{e.label}|{e.source}|{e.group}|{e.text}\n".encode())
    return h.hexdigest()[:16]


# ---- the e5 classifier -----------------------------------------------------------------------


def fit_e5(x: np.ndarray, y: np.ndarray, c: float = 4.0):
    from sklearn.linear_model import LogisticRegression

    pos = int(y.sum())
    clf = LogisticRegression(C=c, class_weight={0: 1.0, 1: max(1.0, (len(y) - pos) / pos / 2)}, max_iter=3000)
    clf.fit(x, y)
    return clf


def oof_e5(x: np.ndarray, y: np.ndarray, fold_of: np.ndarray, c: float) -> np.ndarray:
    out = np.zeros(len(y))
    for fold in range(emergency_model.FOLDS):
        tr, te = fold_of != fold, fold_of == fold
        out[te] = fit_e5(x[tr], y[tr], c).predict_proba(x[te])[:, 1]
    return out


def oof_joint(examples, x: np.ndarray, fold_of: np.ndarray, scale: float) -> np.ndarray:
    """One logistic regression on the n-gram TF-IDF features and the e5 vector (times `scale`)
    side by side, as emergency_model._fit otherwise (C 16, positives ÷2)."""
    from scipy import sparse
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    y = np.array([int(e.label > 0) for e in examples])
    texts = [e.text for e in examples]
    out = np.zeros(len(y))
    for fold in range(emergency_model.FOLDS):
        tr, te = np.where(fold_of != fold)[0], np.where(fold_of == fold)[0]
        vec = TfidfVectorizer(analyzer=emergency_model.features, sublinear_tf=True, min_df=2, norm="l2")
        xtr = sparse.hstack([vec.fit_transform([texts[i] for i in tr]), sparse.csr_matrix(x[tr] * scale)]).tocsr()
        xte = sparse.hstack([vec.transform([texts[i] for i in te]), sparse.csr_matrix(x[te] * scale)]).tocsr()
        pos = int(y[tr].sum())
        clf = LogisticRegression(C=16.0, class_weight={0: 1.0, 1: max(1.0, (len(tr) - pos) / pos / 2)},
                                 max_iter=2000, solver="liblinear")
        out[te] = clf.fit(xtr, y[tr]).predict_proba(xte)[:, 1]
    return out


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


def stacked(p_ng: np.ndarray, p_e5: np.ndarray, y: np.ndarray, fold_of: np.ndarray) -> tuple[np.ndarray, list]:
    """A logistic regression on the two out-of-fold logits, fitted for each fold on the others."""
    from sklearn.linear_model import LogisticRegression

    z = np.column_stack([_logit(p_ng), _logit(p_e5)])
    out, coefs = np.zeros(len(y)), []
    for fold in range(emergency_model.FOLDS):
        tr, te = fold_of != fold, fold_of == fold
        clf = LogisticRegression(C=1.0, max_iter=1000).fit(z[tr], y[tr])
        out[te] = clf.predict_proba(z[te])[:, 1]
        coefs.append([round(float(v), 3) for v in (*clf.coef_[0], clf.intercept_[0])])
    return out, coefs


# ---- the decision, as emergency.assess makes it, on precomputed per-text facts -----------------


class Facts:
    """Per example: rule hit, vetoed, danger concept, enough content (computed once)."""

    def __init__(self, examples, rules) -> None:
        gate = rules.gate
        self.rule = np.array([emergency.rule_match(e.text, rules) is not None for e in examples])
        self.veto = np.array([emergency.vetoed(e.text, rules) for e in examples])
        self.danger = np.array([gate.danger_concept(e.text) for e in examples])
        self.enough = np.array([gate.content(e.text) >= gate.min_content for e in examples])
        self.label = np.array([e.label > 0 for e in examples])
        self.kind = np.array([e.source if (not e.label and e.source in BUDGETS) else ("pos" if e.label else "other")
                              for e in examples])
        self.source = np.array(["pos" if e.label else e.source for e in examples])


def _threshold(scores: np.ndarray, fixed: int, budget: float, total: int) -> float:
    allowed = int(budget * total) - fixed
    if allowed < 0:
        return 1.0
    ranked = np.sort(scores)[::-1]
    return float(ranked[allowed]) + 1e-6 if allowed < len(ranked) else 0.0


def thresholds(f: Facts, idx: np.ndarray, p: np.ndarray, rule_level: np.ndarray) -> tuple[float, float]:
    """emergency_model.thresholds on arrays; `rule_level`: what a rule hit gives (2; 1 or 0 when
    e5 takes it back: a soft one still counts as an alarm, one taken back to none is the model's).
    Budgets over every negative of a kind; negatives outside the three kinds ("real") count as
    routine, as in emergency_model.thresholds."""
    sel = idx[~f.label[idx]]
    kinds = np.where(np.isin(f.kind[sel], list(BUDGETS)), f.kind[sel], "routine")
    soft_t, hard_t = 0.0, 0.0
    for kind, budget in BUDGETS.items():
        k = sel[kinds == kind]
        fixed = int((f.rule[k] & (rule_level[k] > 0)).sum())
        free = k[~(f.rule[k] & (rule_level[k] > 0)) & ~f.veto[k]]
        soft_ok = free[f.danger[free] | f.enough[free]]
        hard_ok = free[f.danger[free] & f.enough[free]]
        soft_t = max(soft_t, _threshold(p[soft_ok], fixed, budget, len(k)))
        hard_t = max(hard_t, _threshold(p[hard_ok], fixed, budget * emergency_model.HARD_SHARE, len(k)))
    return soft_t, max(soft_t, hard_t)


def levels(f: Facts, idx: np.ndarray, p: np.ndarray, soft: float, hard: float, rule_level: np.ndarray) -> np.ndarray:
    """0 none, 1 soft, 2 hard. `rule_level`: the level a rule hit gives (2, or lower when e5 takes it back)."""
    out = np.zeros(len(idx), dtype=int)
    for j, i in enumerate(idx):
        if f.rule[i]:
            out[j] = rule_level[i]
            if out[j] < 2 and not f.veto[i]:  # a rule taken back: the model's own level may still stand
                out[j] = max(out[j], _model_level(f, i, p[i], soft, hard))
        elif not f.veto[i]:
            out[j] = _model_level(f, i, p[i], soft, hard)
    return out


def _model_level(f: Facts, i: int, p: float, soft: float, hard: float) -> int:
    if p < soft:
        return 0
    if not f.danger[i]:
        return 1 if f.enough[i] else 0
    return 2 if (p >= hard and f.enough[i]) else 1


WEAK = ("typo", "taiwanese", "english")


def grouped_cv(examples, f: Facts, p: np.ndarray, fold_of: np.ndarray, rule_level: np.ndarray | None = None) -> dict:
    """Per-fold thresholds on the other folds, pooled figures with 95 % intervals."""
    rule_level = np.full(len(examples), 2) if rule_level is None else rule_level
    lv = np.zeros(len(examples), dtype=int)
    per_fold = {}
    for fold in range(emergency_model.FOLDS):
        others, inside = np.where(fold_of != fold)[0], np.where(fold_of == fold)[0]
        soft, hard = thresholds(f, others, p, rule_level)
        lv[inside] = levels(f, inside, p, soft, hard, rule_level)
        per_fold[fold] = (round(soft, 4), round(hard, 4))
    return summarise(examples, f, lv, per_fold)


def summarise(examples, f: Facts, lv: np.ndarray, per_fold: dict) -> dict:
    out: dict = {"thresholds": per_fold}
    pos = f.label
    k, n = int((lv[pos] > 0).sum()), int(pos.sum())
    out["recall"] = {"k": k, "n": n, "rate": round(k / n, 4), "ci95": wilson(k, n)}
    kh = int((lv[pos] == 2).sum())
    out["recall_hard"] = {"k": kh, "n": n, "rate": round(kh / n, 4)}
    for name, src in (("lookalikes", "lookalike"), ("services", "services"), ("routine_part", "routine"),
                      ("real_taipei_tainan", "real")):
        m = f.source == src
        k, n = int((lv[m] > 0).sum()), int(m.sum())
        by_rule = int(((lv[m] > 0) & f.rule[m]).sum())
        out[name] = {"k": k, "n": n, "rate_pct": round(100 * k / max(n, 1), 3),
                     "ci95_pct": [round(100 * v, 3) for v in wilson(k, n)], "by_rule": by_rule, "by_model": k - by_rule,
                     "hard": int((lv[m] == 2).sum())}
    weak: dict = {}
    for word in WEAK:
        m = pos & np.array([word in e.section.lower() for e in examples])
        k, n = int((lv[m] > 0).sum()), int(m.sum())
        weak[word] = {"k": k, "n": n, "rate": round(k / max(n, 1), 4), "ci95": wilson(k, n)}
    out["weak_sections"] = weak
    out["_levels"] = lv
    return out


# ---- the variants ------------------------------------------------------------------------------


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--embed-only", action="store_true")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--check", type=Path, help="score a JSON-lines batch (text, number) with the final variants")
    ap.add_argument("--routine", action="store_true", help="with --check: also the real routine 1999 cases")
    args = ap.parse_args()
    if args.check:
        return check_main(args.check, args.routine)
    started = time.perf_counter()
    examples = emergency_data.load()
    texts = [e.text for e in examples]
    cache = VectorCache()
    x = cache.embed(texts, args.threads)
    print(f"{len(texts)} vectors ({time.perf_counter() - started:.0f} s)", file=sys.stderr)
    if args.embed_only:
        return 0
    y = np.array([int(e.label > 0) for e in examples])
    fold_of = np.array(emergency_model.folds(examples))
    key = _set_key(examples)
    ng_cache = CACHE_DIR / f"oof-ngram-{key}.npy"
    if ng_cache.exists():
        p_ng = np.load(ng_cache)
    else:
        p_ng = np.array(emergency_model.cross_validate(examples))
        np.save(ng_cache, p_ng)
    rules = emergency.rules()
    f = Facts(examples, rules)
    report: dict = {"examples": len(examples), "emergencies": int(y.sum())}
    variants: dict[str, dict] = {}
    variants["ngram (as is)"] = grouped_cv(examples, f, p_ng, fold_of)
    e5 = {}
    for c in (1.0, 4.0, 16.0):
        e5[c] = oof_e5(x, y, fold_of, c)
        variants[f"e5 alone C{c:g}"] = grouped_cv(examples, f, e5[c], fold_of)
    best_c = max(e5, key=lambda c: variants[f"e5 alone C{c:g}"]["recall"]["rate"])
    p_e5 = e5[best_c]
    report["e5_C"] = best_c
    for w in (0.3, 0.5):
        variants[f"mean (e5 weight {w})"] = grouped_cv(examples, f, (1 - w) * p_ng + w * p_e5, fold_of)
    variants["max"] = grouped_cv(examples, f, np.maximum(p_ng, p_e5), fold_of)
    p_st, coefs = stacked(p_ng, p_e5, y, fold_of)
    report["stack_coefs"] = coefs
    variants["stacked LR"] = grouped_cv(examples, f, p_st, fold_of)
    for scale in (0.5, 1.0):
        jc = CACHE_DIR / f"oof-joint-{scale:g}-{key}.npy"
        p_j = np.load(jc) if jc.exists() else oof_joint(examples, x, fold_of, scale)
        np.save(jc, p_j)
        variants[f"joint LR (n-grams + e5 x{scale:g})"] = grouped_cv(examples, f, p_j, fold_of)
    # e5 takes back a rule's hard alarm when it is sure there is no emergency
    for veto in (0.01, 0.02, 0.05, 0.1):
        for to in (1, 0):
            rl = np.where(f.rule & (p_e5 < veto) & (p_ng < 0.5), to, 2)
            variants[f"ngram; rule → {'soft' if to else 'none'} if p_e5 < {veto} and p_ng < 0.5"] = grouped_cv(
                examples, f, p_ng, fold_of, rl)
    # ... only on a text with enough content (the model gate's min_content): a short cry ("救命",
    # "help", "需要救護車") gives e5 too little to be sure of anything
    for veto in SAFE_VETOES:
        rl = np.where(f.rule & (p_e5 < veto) & (p_ng < 0.5) & f.enough, 0, 2)
        variants[f"ngram; rule → none if p_e5 < {veto}, p_ng < 0.5, enough content"] = grouped_cv(
            examples, f, p_ng, fold_of, rl)
    # ... or the n-gram model alone takes it back (no e5 in the gateway): same gate on content
    for veto in (0.005, 0.01, 0.02, 0.05):
        rl = np.where(f.rule & (p_ng < veto) & f.enough, 0, 2)
        variants[f"ngram; rule → none if p_ng < {veto}, enough content"] = grouped_cv(
            examples, f, p_ng, fold_of, rl)
    report["variants"] = {}
    base = variants["ngram (as is)"]["_levels"]
    for name, v in variants.items():
        lv = v.pop("_levels")
        v["vs_base"] = {
            "newly_caught": int(((lv > 0) & (base == 0) & f.label).sum()),
            "newly_missed": int(((lv == 0) & (base > 0) & f.label).sum()),
            "lookalike_alarms_added": int(((lv > 0) & (base == 0) & (f.source == "lookalike")).sum()),
            "lookalike_alarms_removed": int(((lv == 0) & (base > 0) & (f.source == "lookalike")).sum()),
        }
        report["variants"][name] = v
        r, la = v["recall"], v["lookalikes"]
        print(f"{name:60s} recall {r['rate']:.4f} {r['ci95']} hard {v['recall_hard']['rate']:.3f} | "
              f"lookalikes {la['rate_pct']:.2f}% {la['ci95_pct']} (rule {la['by_rule']}, model {la['by_model']}) | "
              f"services {v['services']['rate_pct']:.2f}% routine {v['routine_part']['rate_pct']:.3f}% | "
              + " ".join(f"{w} {s['rate']:.3f}" for w, s in v["weak_sections"].items()))
    # rule hits on positives with a low e5 score: what a veto would cost
    report["rule_hits"] = {
        "positives": int((f.rule & f.label).sum()),
        "lookalikes": int((f.rule & (f.source == "lookalike")).sum()),
        "p_e5_quantiles_on_positive_rule_hits": [round(float(q), 4) for q in
                                                np.quantile(p_e5[f.rule & f.label], [0.001, 0.01, 0.05, 0.1])],
        "p_e5_quantiles_on_lookalike_rule_hits": [round(float(q), 4) for q in
                                                 np.quantile(p_e5[f.rule & (f.source == "lookalike")],
                                                             [0.1, 0.25, 0.5, 0.75])],
    }
    np.save(CACHE_DIR / f"oof-e5-{key}.npy", p_e5)
    np.save(CACHE_DIR / f"oof-stacked-{key}.npy", p_st)
    report["seconds"] = round(time.perf_counter() - started, 1)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(report, ensure_ascii=False, indent=1, default=str) + "\n", encoding="utf-8")
    print(json.dumps(report["rule_hits"]), f"\nwritten to {OUT.relative_to(ROOT)}")
    return 0



# ---- final models (trained on everything) on new text: a check batch, the real routine cases ----


SAFE_VETOES = (0.02, 0.03, 0.05)
VARIANTS = ("ngram", "ngram+veto", "mean", "joint", "joint+veto",
            *(f"ngram+veto{v:g} (enough content)" for v in SAFE_VETOES))


class Final:
    """The variants trained on the whole set, thresholds from the whole out-of-fold scores (as
    emergency_model.train chooses them), for scoring texts outside the training set."""

    def __init__(self, veto: float = 0.05) -> None:
        from scipy import sparse
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression

        self.cache = VectorCache()
        examples = emergency_data.load()
        self.rules = emergency.rules()
        f = Facts(examples, self.rules)
        x = self.cache.embed([e.text for e in examples])
        y = np.array([int(e.label > 0) for e in examples])
        key = _set_key(examples)  # the out-of-fold scores of a full run (main) on this very set
        oof = {"ngram": np.load(CACHE_DIR / f"oof-ngram-{key}.npy"), "e5": np.load(CACHE_DIR / f"oof-e5-{key}.npy"),
               "joint": np.load(CACHE_DIR / f"oof-joint-1-{key}.npy")}
        oof["mean"] = 0.7 * oof["ngram"] + 0.3 * oof["e5"]
        idx = np.arange(len(examples))
        two = np.full(len(examples), 2)
        self.veto = veto
        vetoed_rule = np.where(f.rule & (oof["e5"] < veto) & (oof["ngram"] < 0.5), 0, 2)
        self.thr = {name: thresholds(f, idx, p, two) for name, p in oof.items()}
        self.thr["ngram+veto"] = thresholds(f, idx, oof["ngram"], vetoed_rule)
        self.thr["joint+veto"] = thresholds(f, idx, oof["joint"], np.where(
            f.rule & (oof["e5"] < veto) & (oof["joint"] < 0.5), 0, 2))
        for v in SAFE_VETOES:  # only on a text with enough content (the model gate's min_content)
            self.thr[f"ngram+veto{v:g} (enough content)"] = thresholds(f, idx, oof["ngram"], np.where(
                f.rule & (oof["e5"] < v) & (oof["ngram"] < 0.5) & f.enough, 0, 2))
        self.ngram = emergency_model.current()
        self.e5 = fit_e5(x, y, 16.0)
        self.vec = TfidfVectorizer(analyzer=emergency_model.features, sublinear_tf=True, min_df=2, norm="l2")
        xj = sparse.hstack([self.vec.fit_transform([e.text for e in examples]), sparse.csr_matrix(x)]).tocsr()
        pos = int(y.sum())
        self.joint = LogisticRegression(C=16.0, class_weight={0: 1.0, 1: max(1.0, (len(y) - pos) / pos / 2)},
                                        max_iter=2000, solver="liblinear").fit(xj, y)
        w = self.joint.coef_[0]
        self.joint_e5_norm = float(np.linalg.norm(w[-384:]))

    def decide(self, texts: list[str]) -> dict[str, np.ndarray]:
        """Levels (0/1/2) of every variant; e5 is run only where some variant can change."""

        lowered = [normalise_text(t).lower() for t in texts]
        n = len(lowered)

        class Ex:  # noqa: D106 - the Facts interface
            def __init__(self, text: str) -> None:
                self.text, self.label, self.source, self.section = text, 0, "check", ""

        f = Facts([Ex(t) for t in lowered], self.rules)
        p_ng = np.array([self.ngram.score(t)[0] for t in lowered])
        tf = self.vec.transform(lowered)
        w = self.joint.coef_[0]
        z_ng_part = tf @ w[:-384] + self.joint.intercept_[0]
        soft_min = min(self.thr["mean"][0], self.thr["joint"][0], self.thr["joint+veto"][0])
        # e5 can matter: a rule hit (veto), the mean reaching its soft threshold, the joint's bound
        need = f.rule | (0.7 * p_ng + 0.3 >= self.thr["mean"][0]) | (
            z_ng_part + self.joint_e5_norm >= float(_logit(np.array([soft_min]))[0]))
        need &= ~f.veto | f.rule
        p_e5 = np.zeros(n)
        x = np.zeros((n, 384), dtype=np.float32)
        todo = np.where(need)[0]
        if len(todo):
            x[todo] = self.cache.embed([lowered[i] for i in todo])
            p_e5[todo] = self.e5.predict_proba(x[todo])[:, 1]
            self.cache.save()
        p_joint = 1 / (1 + np.exp(-(z_ng_part + x @ w[-384:])))
        idx = np.arange(n)
        two = np.full(n, 2)
        out = {"e5 needed": need}
        out["ngram"] = levels(f, idx, p_ng, *self.thr["ngram"], two)
        out["ngram+veto"] = levels(f, idx, p_ng, *self.thr["ngram+veto"],
                                   np.where(f.rule & (p_e5 < self.veto) & (p_ng < 0.5), 0, 2))
        out["mean"] = levels(f, idx, 0.7 * p_ng + 0.3 * p_e5, *self.thr["mean"], two)
        out["joint"] = levels(f, idx, p_joint, *self.thr["joint"], two)
        out["joint+veto"] = levels(f, idx, p_joint, *self.thr["joint+veto"],
                                   np.where(f.rule & (p_e5 < self.veto) & (p_joint < 0.5), 0, 2))
        for v in SAFE_VETOES:
            name = f"ngram+veto{v:g} (enough content)"
            out[name] = levels(f, idx, p_ng, *self.thr[name],
                               np.where(f.rule & (p_e5 < v) & (p_ng < 0.5) & f.enough, 0, 2))
        out["rule"] = f.rule
        return out


def check_main(path: Path, routine: bool) -> int:
    final = Final()
    report: dict = {"thresholds": {k: [round(v, 4) for v in t] for k, t in final.thr.items()}}
    if path.exists():
        rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        res = final.decide([r["text"] for r in rows])
        pos = np.array([bool(r.get("number")) for r in rows])
        report["check"] = {}
        for name in VARIANTS:
            lv = res[name]
            k, n = int((lv[pos] > 0).sum()), int(pos.sum())
            fa, m = int((lv[~pos] > 0).sum()), int((~pos).sum())
            report["check"][name] = {"caught": f"{k}/{n}", "recall": round(k / n, 4), "ci95": wilson(k, n),
                                     "false_alarms": f"{fa}/{m}", "fa_pct": round(100 * fa / m, 2),
                                     "fa_by_rule": int(((lv[~pos] > 0) & res["rule"][~pos]).sum()),
                                     "hard_fa": int((lv[~pos] == 2).sum())}
            print(f"check {name:36s} caught {k}/{n} false alarms {fa}/{m} (rule {report['check'][name]['fa_by_rule']})")
    if routine and KCG.exists():
        rows = [json.loads(line) for line in KCG.read_text(encoding="utf-8").splitlines() if line.strip()]
        unseen = [not emergency_data.routine_selected(str(r["id"])) for r in rows]
        res = final.decide([r["text"] for r in rows])
        u = np.array(unseen)
        report["kcg1999"] = {"n": len(rows), "unseen": int(u.sum()),
                             "e5_needed": int(res["e5 needed"].sum()),
                             "e5_needed_pct": round(100 * float(res["e5 needed"].mean()), 2)}
        for name in VARIANTS:
            lv = res[name]
            report["kcg1999"][name] = {"all": int((lv > 0).sum()), "unseen": int((lv[u] > 0).sum()),
                                       "all_pct": round(100 * float((lv > 0).mean()), 3)}
        print(json.dumps(report["kcg1999"]))
    out = OUT.with_name("emergency_e5_check.json")
    out.write_text(json.dumps(report, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
