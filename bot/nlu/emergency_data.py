"""The emergency detector's training set (nlu_data/emergency/, see its README).

Labels: 0 routine, 110 police, 119 fire/ambulance. Sources:
- `119.txt`, `110.txt`: emergencies we wrote (every style);
- `lookalikes.txt`: routine messages that share words with emergencies;
- `routine_kcg1999.txt`: a hash-selected part of the real Kaohsiung 1999 cases (routine by
  definition: they were dispatched to agencies), copied here so the project needs nothing outside;
- the routing examples of `nlu_data/services/` (ours only: citizen-style routine requests; the two
  emergency intents there are positives);
- half of the real Taipei FAQ questions and Tainan 1999 cases of `nlu_data/real/` (`REAL_FILES`).

Every own example (emergency or look-alike) also appears wrapped in the same polite openings,
stories and questions, so that a wrapper is never a clue for either side.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from bot.catalogue import ROOT
from bot.nlu.normalise import normalise_text

DATA_DIR = ROOT / "nlu_data" / "emergency"
SERVICES_DIR = ROOT / "nlu_data" / "services"
ROUTINE_FILE = DATA_DIR / "routine_kcg1999.txt"
# Real questions and cases of other cities (nlu_data/real/, README there): Taipei's FAQ asks how to
# prevent fires, what to do about a gas leak, whether an ambulance costs money; Tainan's 1999
# cases report smoke, gas cylinders, fallen trees. Routine all, the nearest real look-alikes we
# have. Half of them (by hash) keeps training fast. Not kcg1999.yml: those are the real Kaohsiung
# cases whose untrained part benchmarks/emergency_eval.py scores false alarms on.
REAL_FILES = tuple(ROOT / "nlu_data" / "real" / "examples" / name for name in ("taipei_qa.yml", "tainan1999.yml"))
REAL_MOD = 2
EMERGENCY_INTENTS = {"emergency_fire_medical": 119, "emergency_police": 110}
# Routing intents left out of the negatives: their examples sit on the line ("我老公會打我", "我不想活了"),
# where an extra 110/119 line next to the 113 / 1925 answer does no harm.
BORDERLINE_INTENTS = {"protection_113", "mental_support_1925"}
# Which real 1999 cases are copied for training: sha256(id) mod ROUTINE_MOD == 0. The rest are
# never trained on, and benchmarks/emergency_eval.py reports false alarms on them separately.
ROUTINE_MOD = 3

# The same openings and endings around emergencies and look-alikes alike ({} is the example).
WRAPPERS = (
    "請問{}，我該怎麼做",
    "{}怎麼辦",
    "你好，{}",
    "不好意思想請問一下，{}",
    "我住在三民區，平常很少用這個，今天想問一件事，{}",
    "剛剛下班回家，{}",
    "{}，請問要找哪個單位",
    "我想反映一下，{}",
    "早上出門買早餐的時候，{}",
    "hello {}",
    "{}!!!",
    "{}，拜託",
)


@dataclass(frozen=True)
class Example:
    text: str
    label: int  # 0, 110 or 119
    source: str  # "own", "lookalike", "routine", "services"
    # The cross-validation group: the `# ---` section of the file the example was written in (a
    # category or a style, written as one batch), the intent of a routing example, the line of a
    # real case. A whole section is validated by a model that never saw any of it, so the
    # figures say how the detector does on phrasings written apart, not on near-copies.
    group: int = 0
    section: str = ""  # the section's title (per-section recall in benchmarks/emergency_eval.py --cv)


def _lines(path: Path) -> list[str]:
    return [text for text, _ in _sectioned(path)]


def _sectioned(path: Path) -> list[tuple[str, str]]:
    """(line, title of the `# --- title` section it is in) for every example line."""
    out, section = [], ""
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line.startswith("# ---"):
            section = line.removeprefix("# ---").strip()
        elif line and not line.startswith("#"):
            out.append((line, section))
    return out


def _stable(text: str) -> int:
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "big")


def routine_selected(case_id: str) -> bool:
    """Whether a real 1999 case (by its id) is in the copied training part."""
    return _stable(case_id) % ROUTINE_MOD == 0


def variants(text: str) -> list[str]:
    """The example, two wrapped forms and a one-character typo (drop), chosen by hash."""
    h = _stable(text)
    out = [text]
    for k in range(2):
        out.append(WRAPPERS[(h >> (8 * k)) % len(WRAPPERS)].format(text))
    if len(text) >= 6:
        i = 1 + (h >> 24) % (len(text) - 2)
        out.append(text[:i] + text[i + 1 :])
    return out


def _service_examples() -> list[Example]:
    out: list[Example] = []
    for path in sorted(SERVICES_DIR.glob("*.yml")):
        for intent, text in _yaml_examples(path):
            if intent in BORDERLINE_INTENTS:
                continue
            label = EMERGENCY_INTENTS.get(intent, 0)
            out.append(
                Example(text, label, "own" if label else "services", _stable(f"intent:{intent}"), f"intent {intent}")
            )
    return out


def _real_examples() -> list[Example]:
    return [
        Example(text, 0, "real", _stable(f"{path.name}:{intent}"), f"{path.stem} {intent}")
        for path in REAL_FILES
        if path.exists()
        for intent, text in _yaml_examples(path)
        if _stable(text) % REAL_MOD == 0
    ]


def _yaml_examples(path: Path) -> list[tuple[str, str]]:
    """(intent, example) of a Rasa NLU file."""
    import yaml  # the gateway never needs this module at run time

    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    out = []
    for block in data.get("nlu", []):
        intent = block.get("intent")
        for line in str(block.get("examples", "")).splitlines() if intent else ():
            line = line.strip()
            if line.startswith("- "):
                out.append((intent, line[2:].strip()))
    return out


def source_files() -> list[Path]:
    real = [p for p in REAL_FILES if p.exists()]
    return [*sorted(DATA_DIR.glob("*.txt")), *sorted(SERVICES_DIR.glob("*.yml")), *real]


def data_hash() -> str:
    h = hashlib.sha256()
    for path in source_files():
        h.update(path.name.encode())
        h.update(path.read_bytes())
    return h.hexdigest()[:16]


def load(augment: bool = True) -> list[Example]:
    """The whole training set, normalised as the edge normalises (once), de-duplicated."""
    raw: list[Example] = []
    for name, label, source in (("119.txt", 119, "own"), ("110.txt", 110, "own"), ("lookalikes.txt", 0, "lookalike")):
        raw += [
            Example(t, label, source, _stable(f"{name}:{sec}"), f"{name}: {sec}")
            for t, sec in _sectioned(DATA_DIR / name)
        ]
    raw += _service_examples()
    expanded: list[Example] = []
    for ex in raw:
        if not augment:
            texts = [ex.text]
        elif ex.source in ("own", "lookalike"):
            texts = variants(ex.text)
        else:  # routing examples get one wrapped form too: the wrappers must not mean "emergency"
            texts = [ex.text, WRAPPERS[_stable(ex.text) % len(WRAPPERS)].format(ex.text)]
        expanded += [Example(t, ex.label, ex.source, ex.group, ex.section) for t in texts]
    if ROUTINE_FILE.exists():
        expanded += [Example(t, 0, "routine", _stable(t), "kcg1999") for t in _lines(ROUTINE_FILE)]
    expanded += _real_examples()
    seen: dict[str, Example] = {}
    for ex in expanded:
        text = normalise_text(ex.text).lower()
        if text and text not in seen:
            seen[text] = Example(text, ex.label, ex.source, ex.group, ex.section)
    return list(seen.values())


def write_routine_sample(source: Path) -> int:
    """Copy the selected part of a 1999 feed (JSON lines with id and text) to ROUTINE_FILE."""
    rows = [json.loads(line) for line in source.read_text(encoding="utf-8").splitlines() if line.strip()]
    texts = [r["text"].strip() for r in rows if routine_selected(str(r["id"])) and r.get("text")]
    header = (
        "# Real Kaohsiung 1999 cases (open1999), routine by definition: the part whose sha256(id) mod "
        f"{ROUTINE_MOD} == 0\n# (bot/nlu/emergency_data.py write_routine_sample). Negatives for the detector.\n"
    )
    ROUTINE_FILE.write_text(header + "\n".join(t.replace("\n", " ") for t in texts) + "\n", encoding="utf-8")
    return len(texts)


if __name__ == "__main__":  # python -m bot.nlu.emergency_data ../shared/data/train/kcg1999_train.jsonl
    import sys

    print(write_routine_sample(Path(sys.argv[1])))
