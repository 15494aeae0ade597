"""The emergency detector (bot/nlu/emergency.py: rules + classifier) and the gateway's pre-check.

The detector is scored on tests/data/emergency_cases.yml (written apart from its training data,
nlu_data/emergency/) and on the real routine 1999 cases copied into the project. The gateway is
the real app (create_app) with Rasa absent: an emergency must still get its number at once.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
import yaml

from bot.app import create_app
from bot.conversation import KEPT
from bot.nlu import emergency, emergency_data, emergency_model
from bot.nlu.normalise import normalise_text
from bot.nlu.router import decide
from tests.conftest import SHARED, clear_caches, free_port
from tests.test_survive_pending import FakeRasa

CASES = yaml.safe_load((Path(__file__).parent / "data" / "emergency_cases.yml").read_text(encoding="utf-8"))
# Every fixed case must be caught (issue #17 item 5). This file is a regression check, not the
# blind figure (that is a held-apart set scored by the lead): four rule phrases (載浮載沉, 項鍊扯走,
# English "smoke pouring out", "force the door") were added after it showed them missing, and no
# line of it is in the training data (nlu_data/emergency/README.md).
RECALL_FLOOR = 1.0


@pytest.fixture(scope="module", autouse=True)
def model() -> emergency_model.Model:
    emergency_model.ensure()  # trained by set-up (`bot train`); here only if the data changed since
    emergency_model.reset()
    loaded = emergency_model.current()
    assert loaded is not None
    return loaded


def _assess(text: str) -> emergency.Alarm:
    return emergency.assess(normalise_text(text))


def test_fixed_emergencies_caught_with_the_right_number() -> None:
    items = [(text, number) for number, texts in CASES["emergencies"].items() for text in texts]
    alarms = [(_assess(text), number, text) for text, number in items]
    caught = [(a, number, text) for a, number, text in alarms if a.level != emergency.NONE]
    assert len(caught) / len(items) >= RECALL_FLOOR, [t for a, _, t in alarms if a.level == emergency.NONE]
    assert [t for a, number, t in caught if a.number != number] == []


def test_fixed_lookalikes_raise_no_alarm() -> None:
    assert [t for t in CASES["lookalikes"] if _assess(t).level != emergency.NONE] == []


def test_false_alarms_on_real_routine_cases_at_most_one_in_a_thousand() -> None:
    texts = [
        line
        for line in emergency_data.ROUTINE_FILE.read_text(encoding="utf-8").splitlines()
        if line and not line.startswith("#")
    ]
    assert len(texts) > 8000
    alarms = [t for t in texts if _assess(t).level != emergency.NONE]
    assert len(alarms) <= len(texts) // 1000, alarms


def test_router_acts_on_the_same_decision() -> None:
    hard = decide(normalise_text("有人昏倒了叫不醒"), [])
    assert hard.emergency and hard.agency == "EMERG-119"
    assert not decide(normalise_text("請問住宅火災警報器的補助怎麼申請"), []).emergency
    # one detector: the router's emergency is exactly the detector's hard alarm
    assert emergency.detect(normalise_text("外面有人拿刀在砍人")).agency == "EMERG-110"


def test_past_figurative_and_animal_vetoes() -> None:
    for text in ("救命喔這個路燈又壞了", "去年家裡失火，房屋稅可以減免嗎", "有一隻貓受困在車底"):
        assert _assess(text).level == emergency.NONE, text
    # ... but a past marker with "now" is still an emergency
    assert _assess("我爸之前中風過，現在又倒在地上叫不醒").level == emergency.HARD
    # The latest time word wins: a story opened with 剛剛 about an event of yesterday is past.
    assert emergency.vetoed("剛剛下班回家，昨天下午捷運站有人暈倒，想表揚站務員")
    assert not emergency.vetoed("昨天開始頭痛，剛剛突然倒下去叫不醒")
    assert emergency.vetoed("萬一家裡瓦斯外洩要怎麼處理")  # a hypothetical is not now either


def test_resolved_explained_and_wanted_to_know_raise_no_alarm() -> None:
    """Third-round vetoes, by kind: explained in the same message, already dealt with, a detector
    to buy, a fear of what might happen, a game or a play."""
    for text in (
        "聞到瓦斯味，原來是瓦斯爐沒關好，已經關掉開窗了",
        "一氧化碳警報器要裝在哪裡",
        "電線桿歪一邊了，怕會倒下來壓到人",
        "這齣舞台劇有一段是有人昏倒在舞台上",
        "where can i buy a carbon monoxide alarm",
        "my boss is going to kill me if i'm late",
    ):
        assert _assess(text).level == emergency.NONE, text
    # ... while an alarm that is sounding with people hurt, or a fire now, still are emergencies
    assert _assess("一氧化碳警報器一直在叫，大家都頭痛").level == emergency.HARD
    assert _assess("原來是瓦斯外洩，我媽已經昏倒了").level != emergency.NONE


def test_short_chat_replies_raise_no_alarm() -> None:
    # follow-ups a citizen writes in any conversation: too little content for the classifier
    for text in ("現在呢", "然後呢", "好了嗎", "還要多久", "快一點", "怎麼辦", "幫幫我", "第0則", "一"):
        assert _assess(text).level == emergency.NONE, text


def test_figurative_cries_and_general_questions_raise_no_alarm() -> None:
    for text in (
        "救命啊 好熱",
        "救命啊 作業寫不完",
        "排隊排到快昏倒",
        "被工作壓得喘不過氣",
        "預算被砍了",
        "如果有人昏倒要怎麼做CPR",
        "遇到火災要怎麼逃生",
        "一氧化碳中毒的症狀有哪些",
        "叫救護車要付錢嗎",
    ):
        assert _assess(text).level == emergency.NONE, text
    # ... while the real cry and the real event still are hard alarms
    assert _assess("救命啊 有人拿刀").level == emergency.HARD
    assert _assess("家裡失火了").level == emergency.HARD


def test_the_classifier_alone_gives_a_hard_alarm_only_with_a_danger_and_enough_content() -> None:
    r = emergency.rules()
    assert emergency.model_level("現在呢", 0.999, 0.5, 0.9, r) == emergency.NONE  # too little content
    assert emergency.model_level("巷口那臺廢棄機車放著半年沒人管理", 0.999, 0.5, 0.9, r) == emergency.SOFT  # no danger
    assert emergency.model_level("他倒下", 0.999, 0.5, 0.9, r) == emergency.SOFT  # danger, too short
    assert emergency.model_level("我爸剛剛倒在廚房地上全身一直發抖", 0.999, 0.5, 0.9, r) == emergency.HARD
    assert emergency.model_level("我爸剛剛倒在廚房地上全身一直發抖", 0.7, 0.5, 0.9, r) == emergency.SOFT
    assert emergency.model_level("我爸剛剛倒在廚房地上全身一直發抖", 0.4, 0.5, 0.9, r) == emergency.NONE


def test_a_rule_needs_the_classifiers_consent_except_for_a_call_for_help() -> None:
    """Seventh round (benchmarks/emergency_round7_eval.py): a keyword rule alarms only when the
    classifier's P(emergency) reaches `rule_consent`; an explicit call for help alarms whatever P is."""
    r = emergency.rules()
    assert 0 < r.rule_consent < 0.5
    low = r.rule_consent / 2
    # an explicit call for help with a low classifier score is still a hard rule alarm
    for text in ("救命 有人拿刀", "快叫救護車 我爸倒在地上叫不醒", "help!!!", "需要救護車"):
        level, rule = emergency.level_of(normalise_text(text).lower(), low, 0.9, 0.95, r)
        assert level == emergency.HARD and rule is not None, text
    # a rule match without a call for help is left to the classifier when it does not consent ...
    lowered = normalise_text("家裡失火了").lower()
    assert emergency.rule_match(lowered, r) is not None
    assert emergency.level_of(lowered, low, 0.9, 0.95, r) == (emergency.NONE, None)
    # (the classifier's own level: with thresholds that low it may still alarm, without the rule)
    assert emergency.level_of(lowered, low, low / 2, 0.95, r) == (emergency.SOFT, None)
    # ... and alarms as before when it does
    level, rule = emergency.level_of(lowered, r.rule_consent, 0.9, 0.95, r)
    assert level == emergency.HARD and rule is not None and rule.agency == "EMERG-119"


def _assert_vetoed(*texts: str) -> None:
    """Each text is vetoed, and the detector gives it no alarm."""
    for text in texts:
        assert emergency.vetoed(normalise_text(text).lower()), text
        assert _assess(text).level == emergency.NONE, text


def _assert_let_through(*texts: str) -> None:
    """No veto silences each text, and the detector alarms."""
    for text in texts:
        assert not emergency.vetoed(normalise_text(text).lower()), text
        assert _assess(text).level != emergency.NONE, text


def test_narrowed_vetoes_still_veto_their_lookalike_kind() -> None:
    """Seventh round: paperwork vetoes unless a danger is said to happen now after it; a simile
    unless it tells chest pain; 鳥松／六龜／一卡通 are no animal or cartoon."""
    _assert_vetoed(
        "請問火災補助怎麼申請",
        "家裡上個月失火，想申請補助",
        "我爸剛剛倒下去送醫了，想問長照怎麼申請",  # the danger comes before the paperwork
        "想申請補助，我現在一直咳嗽",  # now, but no danger word
        "他吵起來像瘋子一樣",
        "我家的貓困在鳥松的樹上下不來",
        "一卡通的卡通圖案可以換嗎",
    )
    _assert_let_through(
        "想問補助怎麼申請？剛剛我爸突然倒下去，現在叫不醒",
        "我先生說胸口像被壓住一樣痛，一直冒冷汗",
        "水淹進來了已經到胸口，我們困在二樓出不去，在鳥松",
    )


def test_a_resolved_danger_vetoes_unless_it_is_still_there() -> None:
    """Ninth round (benchmarks/emergency_round9_eval.py): a danger said to be dealt with vetoes,
    unless a person is said to be in danger after it or the danger is said to persist."""
    _assert_vetoed(
        "剛剛瓦斯味很重，我已經把總開關關掉了，窗戶也開了，現在都沒事了",
        "剛剛炒菜油鍋起火，用鍋蓋蓋住就熄了，沒有人受傷，牆壁黑了要找誰清",
        "我女兒剛剛吃葡萄噎到，拍背之後吐出來了，現在在玩",
        "電梯剛才卡住，管理員已經把我們放出來了，大家都沒事",
        "剛剛有人在游泳池昏迷，救生員把他拉上來了，現在醒了，沒事了",  # the all-clear comes last
    )
    _assert_let_through(
        "火已經撲滅了，可是我爸還在裡面叫不醒",
        "同事剛剛摸到電線被電到，倒在地上不動，電源我們已經關了",  # switching off is first aid
        "家裡一股瓦斯味，閥門我已經關了，可是味道還是很重，小孩都在家",
        "他從水裡被拉上來了，沒有呼吸",
    )
    # the light going out in a stuck lift is no fire put out
    assert not emergency.vetoed(normalise_text("電梯停在半路，燈也熄了，我出不去").lower())


def test_not_now_and_topic_vetoes_by_kind() -> None:
    """Tenth round (benchmarks/emergency_round10_eval.py): a safety question asked ahead, a worry
    about the future, a dream or a film, a past event followed by the state now veto; a course or
    "often happens" topic vetoes like paperwork, unless a danger is told after it with a strict
    now-word (a danger word or a keyword rule's pattern); "never before" is no past word."""
    _assert_vetoed(
        "想請教一下，假如半夜在家突然聞到很重的瓦斯味，要先關總開關還是先開窗？現在沒有發生，只是先問。",
        "Hypothetically, if my neighbour's flat is full of smoke, should I knock or call first?",
        "我很怕我媽哪天在浴室跌倒沒人知道，有沒有緊急求救鈴",
        "我昨暝眠夢，夢著阮小弟跋落水，醒來心肝噗噗跳",
        "剛看完一部災難片，整棟大樓燒起來，有人從樓上跳下來",
        "我爸五年前在工地中暑昏倒過，所以現在都不讓他去工地了",
        "社區下週要辦防災演練，老師會假裝有人昏倒，一直練習搬運",  # 一直 is no strict now-word
        "我們班在上急救課程，老師示範有人沒有呼吸時怎麼壓胸",
    )
    _assert_let_through(
        "這個路口常有人闖紅燈。現在有一台機車撞到人，阿伯倒在地上流血",
        "公園遊戲場的溜滑梯旁邊有個小孩剛剛吃糖噎住，現在臉發紫",  # a playground is no game
        "請問長照怎麼申請？我爸剛剛突然半邊臉垂下來，拿不住筷子，講話含糊不清",  # a stroke rule's pattern
        "請問烹飪課程怎麼報名？我婆婆剛剛午睡到現在叫不醒，拍她都沒反應",
        "不好意思，我先生午睡到現在叫不起來，拍他也沒有反應，以前從來沒有這樣",
    )


def test_hypotheticals_yield_handled_told_otherwise_and_cries_by_kind() -> None:
    """Eleventh round (benchmarks/emergency_round11_eval.py): a hypothetical line or a worry vetoes
    unless a clause outside it tells a danger now; a danger dealt with told otherwise (all out, a
    lift that opened, a fire out by itself, the police took him, taken to hospital) vetoes; 哭到 of a
    child gone silent and 救命 followed by a danger told now no longer veto."""
    _assert_vetoed(
        "如果有人在家昏倒該怎麼辦？",
        "萬一家裡失火的話應該怎麼逃生？",
        "如果在家聞到瓦斯味，現在應該先開窗嗎",
        "擔心颱風會讓樹倒下來，現在要怎麼預防",
        "剛才社區電梯停住，保全過來就把門打開了，我們全部都平安出來，想問誰負責保養",
        "剛剛巷口有人搶機車，警察已經把人抓到了，沒有人受傷，要去哪裡做筆錄",
        "烤箱裡的烘焙紙剛才燒起來，關掉電源後它自己熄了，家裡都沒事",
        "救命 公車又誤點了 今天一定遲到",
    )
    _assert_let_through(
        "要是大火延燒到這一層怎麼辦？我們幾個人現在被困在頂樓下不去",
        "我很擔心那個人之後還會再來，他現在正在踹我家的大門",
        "萬一瓦斯外洩怎麼辦，我們現在聞到很重的瓦斯味，頭好暈",
        "電梯門自己開了一半又卡住，我媽還困在裡面出不來",
        "警察已經到了，可是那個人還拿著刀在揮",
        "停車場一台車裡關著小嬰兒，車窗都沒開，小孩哭到快沒聲音了",
        "救命 公車站旁邊有個阿伯剛剛突然倒下不動",
    )


def test_violence_with_injury_is_119() -> None:
    assert _assess("有人被刺了一刀倒在地上流血").number == "119"
    assert _assess("外面有人在打架").number == "110"


def test_model_file_is_plain_weights_scored_without_sklearn() -> None:
    m = emergency_model.current()
    assert m is not None and 0 < m.soft <= m.hard <= 1
    p, _ = m.score(normalise_text("家裡瓦斯味好重，頭很暈").lower())
    q, _ = m.score(normalise_text("巷口路燈不亮").lower())
    assert p > q


def test_the_soft_band_spends_the_whole_target_and_the_hard_threshold_the_budget() -> None:
    """Thirteenth round: the soft threshold is chosen under the budgets x SOFT_SHARE (the whole
    target), the hard one under the budgets as before, so a soft band opens below the hard threshold
    (since the eleventh round they had met: hard = soft). Out-of-fold scores made up here, one kind
    of negative (routing examples, 0.2 % budget): 2,200 of them allow 4 alarms, x 1.25 allow 5."""
    n = 2200
    examples = [
        emergency_data.Example(f"巷口的路燈不亮已經好幾天了編號{i}", 0, "services", i, "intent street_light")
        for i in range(n)
    ]
    scores = [0.99 - 0.0004 * i for i in range(n)]  # all distinct, the first ones highest
    gate = emergency.rules().gate
    assert not any(emergency.vetoed(e.text) or gate.danger_concept(e.text) for e in examples)
    assert all(gate.content(e.text) >= gate.min_content for e in examples)  # each may raise a soft alarm
    assert int(emergency_model.BUDGET_SERVICES * n) == 4
    assert int(emergency_model.BUDGET_SERVICES * emergency_model.SOFT_SHARE * n) == 5
    soft, hard = emergency_model.thresholds(examples, scores)
    assert soft == pytest.approx(scores[5] + 1e-6)  # 5 soft alarms: the whole target
    assert hard == pytest.approx(scores[4] + 1e-6)  # 4 alarms: the budget, as before
    assert soft < hard


# ---- the gateway: before anything else, with Rasa down ---------------------------------------


@pytest_asyncio.fixture
async def gateway(tmp_path, monkeypatch) -> AsyncIterator[tuple[httpx.AsyncClient, FakeRasa]]:
    rasa = FakeRasa(free_port())  # not started: Rasa is down
    monkeypatch.setenv("BOT_VAR_DIR", str(tmp_path / "var"))
    for name in ("BOT_DATABASE_URL", "BOT_REDIS_URL", "BOT_RASA_URLS", "BOT_RASA_PORTS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("BOT_RASA_PORT", str(rasa.port))
    monkeypatch.setenv("BOT_RATE_MESSAGE", "1000/60")
    monkeypatch.setenv("BOT_RATE_IP", "1000/60")
    clear_caches()
    app = create_app()
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway") as client:
            yield client, rasa
    await rasa.stop()
    clear_caches()


async def _say(client: httpx.AsyncClient, sender: str, text: str) -> list[dict]:
    resp = await client.post(
        "/webhooks/rest/webhook", json={"sender": sender, "message": text, "metadata": {"channel": "web"}}
    )
    assert resp.status_code == 200, resp.text
    return resp.json()


async def test_gateway_answers_an_emergency_with_rasa_down(gateway) -> None:
    client, _ = gateway
    replies = await _say(client, "citizen-e", "我爸倒在地上叫不醒")
    assert replies[0]["custom"] == {"type": "emergency", "number": "119", "numbers": ["119"], "level": "hard"}
    assert "119" in replies[0]["text"] and all(r.get("text") != KEPT for r in replies)
    replies = await _say(client, "citizen-e", "有人拿刀在追人")
    assert replies[0]["custom"]["number"] == "110"
    # a routine message with Rasa down is kept, as before
    assert (await _say(client, "citizen-f", "巷口路燈不亮"))[0]["text"] == KEPT


async def test_emergency_goes_to_rasa_after_the_answer_when_rasa_is_up(gateway) -> None:
    client, rasa = gateway
    await rasa.start()
    replies = await _say(client, "citizen-g", "樓梯間都是煙還有燒焦味")
    assert [r["custom"]["type"] for r in replies if r.get("custom")] == ["emergency"]
    assert not any(r.get("text", "").startswith("echo:") for r in replies)  # Rasa's answer is not sent
    for _ in range(50):  # the tracker hears of the turn (an open case form closes)
        if rasa.seen:
            break
        await asyncio.sleep(0.1)
    assert [m for _, m in rasa.seen] == ["樓梯間都是煙還有燒焦味"]


async def test_soft_alarm_puts_the_number_first_then_the_normal_answer(gateway, monkeypatch) -> None:
    client, rasa = gateway
    await rasa.start()
    real = emergency.assess

    def leaning(text: str) -> emergency.Alarm:  # a text the classifier leans on, not sure of
        return emergency.Alarm(emergency.SOFT, "EMERG-119", 0.9, "model") if "咻咻" in text else real(text)

    monkeypatch.setattr(emergency, "assess", leaning)
    replies = await _say(client, "citizen-h", "呼吸有咻咻聲")
    assert "119" in replies[0]["text"] and replies[0]["custom"]["level"] == "soft"  # docs/reply_protocol.md
    assert replies[1]["text"] == "echo:呼吸有咻咻聲"


def test_a_missing_model_is_never_trained_on_a_message(monkeypatch) -> None:
    """Set-up builds the model (`bot train`); a message without it gets the rules at once."""

    def no_training(*_a, **_k):
        raise AssertionError("trained on a message")

    monkeypatch.setattr(emergency_model, "train", no_training)
    monkeypatch.setattr(emergency_model, "digest", lambda: "0000000000000000")  # data with no model file
    emergency_model.reset()
    try:
        assert emergency_model.current() is None
        alarm = _assess("有人昏倒了叫不醒")
        assert (alarm.level, alarm.by, alarm.number) == (emergency.HARD, "rule", "119")
        assert _assess("巷口路燈不亮").level == emergency.NONE
    finally:
        monkeypatch.undo()
        emergency_model.reset()
    assert emergency_model.current() is not None


def test_training_set_is_grouped_by_section_for_cross_validation() -> None:
    examples = emergency_data.load(augment=False)
    own = [e for e in examples if e.source in ("own", "lookalike")]
    assert all(e.section for e in own)
    folds = emergency_model.folds(examples)
    by_group: dict[int, set[int]] = {}
    for e, f in zip(examples, folds, strict=True):
        by_group.setdefault(e.group, set()).add(f)
    assert all(len(f) == 1 for f in by_group.values())  # a section never straddles two folds
    for kind in (lambda e: e.label > 0, lambda e: e.source == "lookalike"):
        sizes = [
            sum(1 for e, f in zip(examples, folds, strict=True) if kind(e) and f == k)
            for k in range(emergency_model.FOLDS)
        ]
        assert min(sizes) > 0.5 * max(sizes), sizes  # every fold validates a fair share of each kind


def _own_lines(names: tuple[str, ...] = ("119.txt", "110.txt", "lookalikes.txt", "routine_kcg1999.txt")) -> list[str]:
    return [normalise_text(t) for name in names for t, _ in emergency_data._sectioned(emergency_data.DATA_DIR / name)]


def test_no_emergency_training_line_copies_a_dev_text_or_a_fixed_case() -> None:
    """The near-copy guard for the detector's own files (the routing guard, tests/test_training_data.py,
    reads the routing sources only): no line of nlu_data/emergency/ near-copies a dev text (any
    half), and no line we wrote near-copies tests/data/emergency_cases.yml."""
    from bot.nlu.import_cases import near_copies

    dev = [
        normalise_text(json.loads(line)["text"])
        for path in sorted((SHARED / "data" / "eval").glob("*.jsonl"))
        for line in path.open(encoding="utf-8")
        if line.strip()
    ]
    assert len(dev) > 900
    lines = _own_lines()
    assert len(lines) > 10000
    # Counted only: a dev text (sealed half included) is never printed, not even by a failing assert.
    copies = len(near_copies(lines, dev))
    assert copies == 0, f"{copies} training lines near-copy a dev text"
    fixed = [normalise_text(t) for texts in CASES["emergencies"].values() for t in texts]
    fixed += [normalise_text(t) for t in CASES["lookalikes"]]
    own = _own_lines(("119.txt", "110.txt", "lookalikes.txt"))
    assert [own[i] for i in sorted(near_copies(own, fixed))] == []


def test_no_training_line_copies_a_held_apart_set_that_is_not_trained_on() -> None:
    """The held-apart sets trained on are named by their section headers ("H: written blind by
    others (vN set)": v1–v8 since the thirteenth round); the sets from v6 on that are not (v9 and
    later) stay apart: no training line near-copies one of their texts (counted only: they are never
    printed)."""
    from bot.nlu.import_cases import near_copies

    data = Path(__file__).resolve().parents[1] / "benchmarks" / "data"
    trained = {line.split("(")[-1].split()[0] for name in ("119.txt", "110.txt", "lookalikes.txt")
               for line in (emergency_data.DATA_DIR / name).read_text(encoding="utf-8").splitlines()
               if line.startswith("# --- H: written blind by others")}
    assert {"v1", "v2", "v3", "v4", "v5", "v6", "v7", "v8"} <= trained
    apart = [path for path in sorted(data.glob("emergency_*heldout_v*.jsonl"))
             if (version := path.stem.rsplit("_", 1)[-1]) not in trained and int(version[1:]) >= 6]
    assert len(apart) >= 2  # v9's emergencies and look-alikes at least
    texts = [normalise_text(json.loads(line)["text"]) for path in apart
             for line in path.open(encoding="utf-8") if line.strip()]
    assert len(texts) > 700
    copies = len(near_copies(_own_lines(), texts))
    assert copies == 0, f"{copies} training lines near-copy a held-apart text"


def test_the_emergency_near_copy_guard_catches_a_copy() -> None:
    from bot.nlu.import_cases import near_copies

    case = next(normalise_text(t) for t in CASES["emergencies"]["119"] if len(t) >= 14)
    assert near_copies(["路燈不亮請修理", case[:-1] + "。"], [case]) == {1}
