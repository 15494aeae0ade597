"""Numbers and place names masked in the routing features (bot/nlu/feature_mask.py) and the Rasa
tokenizer that applies the mask (bot/nlu/tokenizer.py): what is masked, what is kept, and that the
tokenizer masks the names of its config (which training fills and the model keeps)."""

from __future__ import annotations

import subprocess

from bot.catalogue import ROOT
from bot.nlu.feature_mask import current_place_names, mask_places, place_names


def test_long_numbers_and_house_numbers_are_masked_but_not_hotlines() -> None:
    out = mask_places("電話0912345678，車號ABC-1234，請撥1999或110、119，3盞路燈，8巷12號5樓")
    assert "0912345678" not in out and "1234" not in out
    assert "000" in out
    assert "1999" in out and "110" in out and "119" in out
    assert "3盞" in out  # a count is not a place
    assert "0巷0號0樓" in out


def test_districts_and_curated_roads_become_placeholders() -> None:
    names = current_place_names()
    assert ("三民區", "◎區") in names and len([n for n, p in names if p == "◎區"]) == 38
    road = next(n for n, p in names if p == "◎路" and len(n) >= 4)
    out = mask_places(f"三民區{road}路燈不亮")
    assert out == "◎區◎路路燈不亮"
    # the longer name wins: a numbered road is not cut into its plain form
    assert mask_places("中正四路坑洞", place_names([], ["中正路", "中正四路"])) == "◎路坑洞"


def test_text_without_places_or_numbers_is_unchanged() -> None:
    for text in ("巷口路燈不亮", "樓下卡拉OK吵到三點", "我28歲想開早餐店有補助嗎", ""):
        assert mask_places(text) == text


CHECK = r'''
import json, tempfile
from pathlib import Path
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from bot.nlu.tokenizer import PlaceMaskingJiebaTokenizer as T

storage = LocalModelStorage(Path(tempfile.mkdtemp()))
context = ExecutionContext(GraphSchema({}), "test")
resource = Resource("tok")
config = {**T.get_default_config(), "place_names": [["測試大道", "◎大道"], ["三民區", "◎區"]]}
tok = T.create(config, storage, resource, context)
tok.train(TrainingData([Message(data={"text": "路燈不亮", "intent": "light"})]))
loaded = T.load(config, storage, resource, context)
msg = Message(data={"text": "三民區測試大道415巷3號路燈不亮", "intent": "light_out"})
loaded.process([msg])
print(json.dumps({"names": loaded.names, "tokens": [t.text for t in msg.get("text_tokens")],
                  "intent_tokens": [t.text for t in msg.get("intent_tokens") or []]}, ensure_ascii=False))
'''


def test_the_tokenizer_cuts_the_masked_text_with_the_names_stored_in_the_model() -> None:
    proc = subprocess.run([str(ROOT / ".venv-rasa/bin/python"), "-c", CHECK], cwd=ROOT, capture_output=True,
                          text=True, timeout=300, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    import json

    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert [tuple(p) for p in out["names"]] == [("測試大道", "◎大道"), ("三民區", "◎區")]
    joined = "".join(out["tokens"])
    assert joined == "◎區◎大道0巷0號路燈不亮", joined  # the config's names, not today's lists
    assert "415" not in joined and "三民" not in joined
    assert out["intent_tokens"] and "◎" not in "".join(out["intent_tokens"])  # only the text is masked
