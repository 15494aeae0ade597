"""The batched count featurizer and the classifier's feature assembly give exactly what Rasa's
own code gives (bot/nlu/count_featurizer.py, bot/nlu/classifier.py `_sparse_sentences`).

Runs in the Rasa environment: both featurizers (words, char n-grams) are trained on a few
texts, then a batch with an empty text, an unknown word and repeated words goes through Rasa's
CountVectorsFeaturizer and through ours, message by message and feature by feature."""

from __future__ import annotations

import subprocess

from bot.catalogue import ROOT

CHECK = r'''
import sys, tempfile
from pathlib import Path
import numpy as np
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.nlu.featurizers.sparse_featurizer.count_vectors_featurizer import CountVectorsFeaturizer
from rasa.nlu.tokenizers.jieba_tokenizer import JiebaTokenizer
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from bot.nlu.classifier import _sparse_sentences
from bot.nlu.count_featurizer import BatchCountVectorsFeaturizer

storage = LocalModelStorage(Path(tempfile.mkdtemp()))
context = ExecutionContext(GraphSchema({}), "test")
tok = JiebaTokenizer.create(JiebaTokenizer.get_default_config(), storage, Resource("tok"), context)
train = [Message(data={"text": t, "intent": i}) for t, i in [
    ("巷口路燈不亮", "light"), ("路燈壞了晚上很暗", "light"), ("樓下卡拉OK吵到三點", "noise"),
    ("隔壁裝潢很吵", "noise"), ("水溝蓋破了", "drain"), ("水溝堵住發臭", "drain")]]
data = TrainingData(train)
tok.process_training_data(data)

def pair(name, config):
    made = []
    for cls in (CountVectorsFeaturizer, BatchCountVectorsFeaturizer):
        f = cls.create({**cls.get_default_config(), **config}, storage, Resource(f"{name}-{cls.__name__}"), context)
        f.train(data)
        made.append(f)
    return made

featurizers = [pair("words", {}), pair("chars", {"analyzer": "char_wb", "min_ngram": 1, "max_ngram": 3})]
texts = ["路燈不亮", "", "卡拉OK卡拉OK卡拉OK 好吵", "完全沒見過的字詞彙", "水溝蓋 路燈 吵", "😀"]

def run(which):
    msgs = [Message(data={"text": t}) for t in texts]
    tok.process(msgs)
    for pair_ in featurizers:
        pair_[which].process(msgs)
    return msgs

theirs, ours = run(0), run(1)
checked = 0
for a, b in zip(theirs, ours):
    fa = [(f.type, f.attribute, f.features) for f in a.features]
    fb = [(f.type, f.attribute, f.features) for f in b.features]
    assert [x[:2] for x in fa] == [x[:2] for x in fb], (fa, fb)
    for (_, _, x), (_, _, y) in zip(fa, fb):
        assert x.shape == y.shape and x.dtype == y.dtype, (x.shape, y.shape, x.dtype, y.dtype)
        assert (x.toarray() == y.toarray()).all()
        checked += 1
# the classifier's assembly against Rasa's own combination, on Rasa's own features
mine = _sparse_sentences(theirs).toarray()
width = mine.shape[1]
for i, m in enumerate(theirs):
    combined = m.get_sparse_features("text")[1]
    want = np.zeros(width) if combined is None else combined.features.toarray().ravel()
    assert want.shape == (width,) and (mine[i] == want).all(), i
print("ok", checked, width, int((mine != 0).sum()))
'''


def test_batched_counts_and_sentence_assembly_equal_rasas() -> None:
    proc = subprocess.run([str(ROOT / ".venv-rasa/bin/python"), "-c", CHECK], cwd=ROOT, capture_output=True,
                          text=True, timeout=300, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    ok, checked, width, nonzero = proc.stdout.strip().splitlines()[-1].split()
    # 4 texts with tokens x 2 featurizers x (sequence + sentence); the emoji-only text may or may not
    # tokenise, so at least 16 features were compared, over a real vocabulary
    assert ok == "ok" and int(checked) >= 16 and int(width) > 20 and int(nonzero) > 10
