"""Re-create real.jsonl from the shared training material (run by hand; the project trains
from the copy, never from ../shared). Usage:
    .venv/bin/python nlu_data/act/sample_real.py ../shared/data/train
Rows of an FAQ are questions; rows of a 1999 dispatch feed or a repair log are reports."""

from __future__ import annotations

import json
import random
import sys
from collections import defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
SEED = 20261206
# file: (act, how many rows, cap per category (None: plain random sample))
PLAN = {
    "taipei_qa.jsonl": ("question", 2600, None),
    "kcg1999_train.jsonl": ("report", 1700, 60),
    "tainan1999.jsonl": ("report", 600, None),
    "taipei_streetlight.jsonl": ("report", 300, None),
}


def sample(src: Path) -> list[dict]:
    rng = random.Random(SEED)
    out: list[dict] = []
    for name, (act, n, per_category) in PLAN.items():
        rows = [json.loads(line) for line in (src / name).read_text(encoding="utf-8").splitlines() if line.strip()]
        rows = [r for r in rows if 4 <= len(r["text"]) <= 300]
        if per_category:
            # kcg1999 is 45 % street works: cap each category so the reports cover every kind.
            by_cat: dict[str, list[dict]] = defaultdict(list)
            for r in rows:
                by_cat[r.get("category", "")].append(r)
            pool = [r for cat in sorted(by_cat) for r in rng.sample(by_cat[cat], min(per_category, len(by_cat[cat])))]
            rows = pool
        picked = rng.sample(rows, min(n, len(rows)))
        out += [{"id": r["id"], "text": r["text"], "act": act, "source": name.removesuffix(".jsonl")} for r in picked]
    return out


if __name__ == "__main__":
    rows = sample(Path(sys.argv[1]))
    with (HERE / "real.jsonl").open("w", encoding="utf-8") as fh:
        for r in rows:
            fh.write(json.dumps(r, ensure_ascii=False) + "\n")
    print(len(rows), "rows")
