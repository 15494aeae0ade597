"""The catalogue and the training data: complete, consistent, and written by us."""

from __future__ import annotations

import json
from collections import Counter

import numpy as np

from bot.catalogue import load_catalogue
from bot.nlu.import_cases import REAL_SOURCES
from bot.nlu.normalise import normalise_text
from bot.nlu.training_data import example_weight, load_examples, load_sourced
from tests.conftest import SHARED, taxonomy_ids

NEAR_COPY = 0.8  # character-trigram Jaccard similarity above which an example counts as copied


def test_every_agency_citizens_deal_with_has_a_service():
    cat = load_catalogue()
    assert set(cat.agencies) == taxonomy_ids()
    covered = {s.agency for s in cat.services.values()}
    # The city library's questions are answered by 文化局 in the city's own FAQ, so the library
    # service is CUL's public_library (unit 高雄市立圖書館) rather than a LIB service.
    assert cat.services["public_library"].agency == "CUL" and "圖書館" in cat.services["public_library"].unit
    missing = taxonomy_ids() - covered - {"LIB"}
    assert not missing, f"agencies without a service: {sorted(missing)}"
    assert len(cat.services) >= 80


def test_every_service_has_enough_examples_and_every_intent_a_service():
    cat = load_catalogue()
    counts = Counter(intent for _, intent in load_examples())
    assert set(counts) <= set(cat.services), sorted(set(counts) - set(cat.services))
    thin = {s: counts[s] for s in cat.services if counts[s] < 12}
    assert not thin, f"services with fewer than 12 examples: {thin}"


def test_services_are_complete():
    for svc in load_catalogue().services.values():
        assert svc.name_zh and svc.name_en and svc.answer_zh and svc.open311_code, svc.id
        if svc.kind == "report":
            assert svc.needs, f"{svc.id}: a report must say what a case needs"
        if svc.kind == "external":
            assert svc.agency.startswith("EXT-"), svc.id


def _trigrams(texts: list[str]):
    from sklearn.feature_extraction.text import CountVectorizer

    vec = CountVectorizer(analyzer="char", ngram_range=(3, 3), binary=True)
    return vec, vec.fit_transform(texts)


def _near_copy_rows(train: list[str]) -> list[int]:
    """Indices of `train` texts that near-copy some dev text (dev texts of ≥ 8 characters)."""
    dev = [normalise_text(json.loads(line)["text"])
           for path in sorted((SHARED / "data" / "eval").glob("*.jsonl")) for line in path.open(encoding="utf-8")]
    dev = [d for d in dev if len(d) >= 8]
    # One vocabulary over both, so a dev text's trigrams unseen in training still count.
    _, x_all = _trigrams(train + dev)
    x_train, x_dev = x_all[: len(train)], x_all[len(train):]
    inter = (x_train @ x_dev.T).toarray()
    size_train = np.asarray(x_train.sum(axis=1)).ravel()[:, None]
    size_dev = np.asarray(x_dev.sum(axis=1)).ravel()[None, :]
    jaccard = inter / np.maximum(size_dev + size_train - inter, 1)
    return [int(i) for i in np.nonzero(jaccard.max(axis=1) >= NEAR_COPY)[0]]


def test_no_training_example_is_a_copy_of_a_dev_text():
    """Accuracy is judged on held-out real requests; copying the dev split would hide that.
    Every source is checked: our written examples and each real source (nlu_data/real)."""
    # Curated examples (var/curated/) are real citizens' messages a curator assigned, not
    # texts we wrote, so this guard on our own writing leaves them out; the retrain job scores
    # them on our held-out file, never on the dev split (bot/staff/retrain.py).
    rows = load_sourced(curated=False)
    assert {s for _, _, s in rows} >= {"ours", *REAL_SOURCES}
    copies = _near_copy_rows([normalise_text(t) for t, _, _ in rows])
    # Named by source and position only: a dev text (sealed half included) is never printed.
    assert not copies, f"{len(copies)} near-copies of dev texts: {Counter(rows[i][2] for i in copies)}"


def test_the_guard_catches_a_near_copy():
    """The guard above can fail: a dev text with one character changed is caught."""
    dev = next(json.loads(line)["text"] for line in (SHARED / "data" / "eval" / "kcg_faq.jsonl").open(encoding="utf-8")
               if json.loads(line)["half"] == "tune" and len(json.loads(line)["text"]) >= 20)
    text = normalise_text(dev)
    assert _near_copy_rows(["路燈不亮請修理", text[:-1] + "。"]) == [1]


def test_real_material_is_read_with_its_sources():
    """The real sources are in the training set by default, each block tagged with its source,
    and on their own they cover the agencies the 1999 feed and the FAQs handle."""
    rows = load_sourced(curated=False)
    by_source = Counter(s for _, _, s in rows)
    assert by_source["kcg1999"] > 3000 and by_source["taipei_qa"] > 3000
    assert by_source["tainan1999"] > 300 and by_source["taipei_streetlight"] > 100
    assert by_source["ours"] > 5000
    cat = load_catalogue()
    agencies = {cat.services[i].agency for _, i, s in rows if s != "ours"}
    assert {"PWB", "EPB", "WRB", "TRB", "POL", "AGR", "EXT-TPC", "LAB", "DOH", "LAND"} <= agencies
    assert len(load_sourced(curated=False, real=False)) == by_source["ours"]


def test_the_big_feeds_are_capped_and_weighted():
    """No (source, service) exceeds its cap, and config.yml weighs the large real feeds below
    our examples, so 45 % street lights and potholes do not drown the small agencies."""
    import yaml

    from tests.conftest import ROOT

    mapping = yaml.safe_load((ROOT / "nlu_data" / "real" / "mapping.yml").read_text(encoding="utf-8"))
    counts = Counter((s, i) for _, i, s in load_sourced(curated=False) if s != "ours")
    for (source, service), n in counts.items():
        assert n <= mapping["cap_per_service"][source], (source, service, n)
    config = yaml.safe_load((ROOT / "config.yml").read_text(encoding="utf-8"))
    clf = next(c for c in config["pipeline"] if c["name"].endswith("LinearIntentClassifier"))
    weights = clf["source_weights"]
    assert set(weights) >= set(REAL_SOURCES)
    assert example_weight({"intent": {"source": "kcg1999"}}, weights) == weights["kcg1999"]
    assert example_weight(None, weights) == 1.0 and example_weight({"intent": {}}, weights) == 1.0
    assert example_weight({"intent": {"source": "unknown"}}, weights) == 1.0


def test_kaohsiung_jurisdiction_in_the_catalogue():
    """Where the city's own 1999 categories show who does a job, the catalogue agrees."""
    cat = load_catalogue()
    services = cat.services
    assert services["abandoned_vehicle"].agency == "EPB"  # 廢棄車輛: 環保局 清潔隊 in Kaohsiung
    assert services["stray_dog_capture"].agency == "AGR"  # 犬隻吠叫, 流浪犬: 動物保護處
    assert services["drain_cover_damage"].agency == "WRB"  # 溝蓋: 水利局
    assert services["sewer_blocked"].agency == "WRB"  # 污水管阻塞: 水利局
    assert services["park_facility_damage"].agency == "PWB"  # 公園設施: 養工處
    assert services["traffic_signal_broken"].agency == "TRB"  # 號誌 (and its box): 交通局
