"""A fast proxy for the routing model, for writing training data: trains a character n-gram
linear classifier on `nlu_data/` in a few seconds and reports agency accuracy on the dev
files, so an author sees which agencies and phrasings their examples miss.

Not the product's router (that is Rasa; see route_eval.py). Usage:
    .venv/bin/python benchmarks/quick_probe.py [--errors N] [--agency PWB]
"""

from __future__ import annotations

import argparse
import collections
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.catalogue import catalogue  # noqa: E402
from bot.nlu.normalise import normalise_text  # noqa: E402
from bot.nlu.training_data import load_examples  # noqa: E402

EVAL_DIR = ROOT.parent / "shared" / "data" / "eval"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--errors", type=int, default=0, help="print this many errors per file")
    ap.add_argument("--agency", help="only print errors whose true agency is this")
    args = ap.parse_args()

    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.svm import LinearSVC

    cat = catalogue()
    examples = load_examples()
    texts = [normalise_text(t) for t, _ in examples]
    labels = [i for _, i in examples]
    print(f"{len(texts)} examples, {len(set(labels))} intents, {len(cat.services)} services")
    counts = collections.Counter(labels)
    thin = sorted(i for i in cat.services if counts[i] < 10)
    if thin:
        print("services with < 10 examples:", ", ".join(thin))
    vec = TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 3), sublinear_tf=True)
    x = vec.fit_transform(texts)
    # A linear SVM: seconds on ~170 classes, where multinomial logistic regression took a minute.
    clf = LinearSVC(C=0.5).fit(x, labels)

    for path in sorted(EVAL_DIR.glob("*.jsonl")):
        rows = [json.loads(line) for line in path.open(encoding="utf-8")]
        pred = clf.predict(vec.transform([normalise_text(r["text"]) for r in rows]))
        agencies = [cat.services[p].agency for p in pred]
        ok = sum(a == r["agency"] for a, r in zip(agencies, rows))
        per = collections.defaultdict(lambda: [0, 0])
        confusions = collections.Counter()
        for a, r in zip(agencies, rows):
            per[r["agency"]][1] += 1
            per[r["agency"]][0] += a == r["agency"]
            if a != r["agency"]:
                confusions[(r["agency"], a)] += 1
        print(f"\n{path.stem}: top-1 agency {ok / len(rows):.3f} ({ok}/{len(rows)})")
        print("  per agency:", ", ".join(f"{k} {v[0]}/{v[1]}" for k, v in sorted(per.items())))
        print("  confusions (true→pred):", ", ".join(f"{t}→{p} {n}" for (t, p), n in confusions.most_common(8)))
        shown = 0
        for a, p, r in zip(agencies, pred, rows):
            if shown >= args.errors:
                break
            if a != r["agency"] and (not args.agency or r["agency"] == args.agency):
                print(f"    [{r['agency']}→{a}/{p}] {r['text'][:80]}")
                shown += 1


if __name__ == "__main__":
    main()
