"""The case conversation as plain functions: what the form asks for a service, how one citizen
message changes the draft, what is said. actions/cases.py adapts these to rasa-sdk; tests
call them directly.

The draft lives in Rasa slots (the tracker store keeps them if a process dies mid-talk);
nothing is written to the case store until the citizen confirms.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.exc import InterfaceError, OperationalError

from bot import media
from bot.cases import dedupe, form_phrases, outbox, places, store
from bot.catalogue import Catalogue, Service, catalogue
from bot.handoff import asking
from bot.messages import Button, Outgoing
from bot.nlu import emergency

FORM = "case_form"
# Every slot the form may fill; domain.yml lists the same under forms.case_form.
FORM_SLOTS = ["case_location", "case_plate", "case_dup_choice", "case_photo", "case_time",
              "case_description", "case_confirm"]
DRAFT_SLOTS = [*FORM_SLOTS, "case_service", "case_intake", "case_district", "case_road", "case_lat",
               "case_lon", "case_location_draft", "case_duplicate", "case_photos", "case_turns"]
NONE = "none"  # a skipped optional field (None means "not asked yet")
INTENT_MIN = 0.5
CASE_NUMBER = re.compile(r"KH-?\d{4}-?\d{6}", re.IGNORECASE)
# A case number with its follow-up PIN after it: "KH-2612-000123 483920", "KH2612000123 密碼483920".
CASE_WITH_PIN = re.compile(r"(KH-?\d{4}-?\d{6})[\s,，:：、/]*(?:查詢密碼|密碼|PIN)?[\s:：]*(\d{6})(?!\d)",
                           re.IGNORECASE)
# The PIN alone, typed after the number when asked for it.
PIN_ONLY = re.compile(r"^\s*(?:密碼|查詢密碼|PIN)?[\s:：]*(\d{6})\s*$", re.IGNORECASE)
# "我的案件" and the like: answered from the store whatever the classifier made of them.
MY_CASES = re.compile(r"^(我的|查|查詢|查看|看)?(我的)?(案件|案子|通報)(列表|清單|進度|查詢)?[?？。!！]*$|^my cases?$",
                      re.IGNORECASE)
_PLATE = re.compile(r"(?<![A-Z0-9])([A-Z0-9]{2,4})[-\s]?([A-Z0-9]{2,4})(?![A-Z0-9])")
# Short replies recognised by words as well as by the NLU, which sees ~170 intents.
_END = r"[啊喔的了！!。]*$"
_YES_WORDS = r"好|對|是|確認|送出|沒錯|正確|可以|ok|yes|y|嗯|要|追蹤|好的|對的|是的|確定"
_YES = re.compile(r"^(?:(?:" + _YES_WORDS + r")\s*)+" + _END, re.I)
_NO = re.compile(r"^(不|不是|不對|錯|錯了|no|n|否|不要|重新通報|新通報|仍要通報)" + _END, re.I)
_SKIP = re.compile(r"^(略過|跳過|沒有|沒|無|不用|免|skip|none|no photo|沒有照片|不用了|先不用)" + _END, re.I)
_CANCEL = re.compile(r"(取消|不用報了|不要報了|不報了|算了|cancel)", re.I)
_FIX_LOCATION = re.compile(r"(地點|地址|位置).{0,3}(錯|改|不對)|改.{0,2}(地點|地址|位置)")
_FIX_DESCRIPTION = re.compile(r"(說明|描述|內容).{0,3}(錯|改|不對)|改.{0,2}(說明|描述|內容)")
# A correction that carries the new value: "不對，是建工路", "地址改成三民區建工路100號",
# "車牌應該是ABC-1235". group(1) names the field when it is named, group(2) is the new value.
_CORRECTION = re.compile(
    r"^(?:(?:不對|不是|錯了|打錯了?|更正|說錯了?)[\s,，。.!！:：]*(?:是|應該是|應為|改成|改為)?"
    r"(地址|地點|位置|車牌|車號|時間|說明|描述)?(?:是|應該是|應為|改成|改為|:|：)?"
    r"|(地址|地點|位置|車牌|車號|時間|說明|描述)(?:要|請)?(?:改成|改為|應該是|應為|更正為|是))"
    r"[\s,，:：]*(.{2,})$", re.I)
_FIELD_WORDS = {"地址": "location", "地點": "location", "位置": "location", "車牌": "plate", "車號": "plate",
                "時間": "time", "說明": "description", "描述": "description"}
# Form-control intents: never taken for a question about another service.
_FORM_INTENTS = {"affirm", "deny", "skip_field", "cancel_case", "correct_location", "correct_description",
                 "follow_case", "human_handoff"}
UNKNOWN_PLATE = "不明"


OUTSIDE_ZH = "這個地址看起來不在高雄市，我只能受理高雄市的案件。請再告訴我高雄市內的地點（區＋路名或地標）。"
OUTSIDE_EN = "That address seems to be outside Kaohsiung. Please give a place in Kaohsiung."
NO_PLACE_ZH = "我沒有看出地點。請輸入「區＋路名門牌」或「區＋地標」，例如：三民區建工路100號；也可以直接傳送位置資訊。"
NO_PLACE_EN = "I could not find a place in that. Type district + road and number, or a landmark, or share a location."
FILING_ZH = "已收到您確認的通報，系統正在立案中，完成後會立即通知您案件編號；不需要重新通報。急事請撥打 1999。"
FILING_EN = ("Your confirmed report is received and being filed; you will get the case number as soon as it is. "
             "No need to report it again. For anything urgent call 1999.")


def filed(case: store.Case, lang: str = "zh") -> list[Outgoing]:
    """What the citizen is told once a case is filed (now, or later from the outbox)."""
    svc = catalogue().service(case.service)
    days = f"，預計 {svc.expected_days} 天內處理" if svc and svc.expected_days else ""
    days_en = f"; expected within {svc.expected_days} days" if svc and svc.expected_days else ""
    agency = _agency_zh(svc) if svc else case.agency
    zh = (f"已立案！案件編號 {case.number}，由{agency}處理{days}。"
          "進度更新會通知您，也可以隨時說「我的案件」查詢。")
    en = f"Filed! Case number {case.number}{days_en}. You will be told of progress; say 'my cases' any time."
    custom = {**card(case, lang), "type": "case_filed"}
    # The PIN exists in clear only on the case file_case just made (store keeps its hash): said
    # once, here, so the citizen can follow the case on another device or after clearing the chat.
    pin = getattr(case, "pin", None)
    if pin:
        zh += (f"\n查詢密碼：{pin}（請記下來；換手機或清除對話後，輸入「{case.number} {pin}」即可查詢進度。"
               "密碼只顯示這一次，請勿告訴他人）")
        en += (f"\nFollow-up PIN: {pin}. Note it down: on another device, type '{case.number} {pin}' to see "
               "the progress. It is shown only this once; keep it to yourself.")
        custom["pin"] = pin
    return [Outgoing(text=t(lang, zh, en), custom=custom)]


def field_payload(name: str, state: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """The reply protocol's `case_field` payload (docs/reply_protocol.md): the field asked for."""
    return {"type": "case_field", "field": name, "service": state.get("case_service") or "", **extra}


def t(lang: str, zh: str, en: str) -> str:
    return en if lang == "en" else zh


@dataclass
class Message:
    """The parts of the latest user message the form looks at."""

    text: str = ""
    intent: str = ""
    confidence: float = 0.0
    lat: float | None = None
    lon: float | None = None
    location_text: str = ""
    image_id: str | None = None
    lang: str = "zh"

    @classmethod
    def from_rasa(cls, latest: dict[str, Any]) -> Message:
        meta = latest.get("metadata") or {}
        intent = latest.get("intent") or {}
        text = (latest.get("text") or "").strip()
        msg = cls(text=text, intent=intent.get("name") or "", confidence=float(intent.get("confidence") or 0.0),
                  lang="en" if meta.get("lang") == "en" else "zh")
        if text.startswith("/"):  # a button: its payload is the intent itself
            msg.intent, msg.confidence, msg.text = text[1:], 1.0, ""
        loc = meta.get("location")
        if isinstance(loc, dict):
            try:
                msg.lat, msg.lon = float(loc["latitude"]), float(loc["longitude"])
            except (KeyError, TypeError, ValueError):
                msg.lat = msg.lon = None
            msg.location_text = " ".join(str(loc.get(k) or "") for k in ("title", "address")).strip()
        image = meta.get("image_id")
        # Only an image bot.media really stored (type and size checked there) joins a case.
        if isinstance(image, str) and media.find(image) is not None:
            msg.image_id = image
        return msg

    def said(self, intent: str, pattern: re.Pattern[str]) -> bool:
        by_nlu = self.intent == intent and self.confidence >= INTENT_MIN
        return by_nlu or bool(self.text and pattern.search(self.text))


@dataclass
class Step:
    slots: dict[str, Any] = field(default_factory=dict)
    say: list[Outgoing] = field(default_factory=list)
    stop: bool = False  # end the form now (cancelled, emergency)


def service_of(state: dict[str, Any], cat: Catalogue | None = None) -> Service | None:
    return (cat or catalogue()).service(state.get("case_service") or "")


def required_slots(state: dict[str, Any], cat: Catalogue | None = None) -> list[str]:
    """What this service's case still could ask, in asking order."""
    svc = service_of(state, cat)
    if svc is None:
        return []
    fields = set(svc.needs) | set(svc.optional)
    out = [s for f, s in (("location", "case_location"), ("plate", "case_plate")) if f in fields]
    if state.get("case_duplicate"):
        out.append("case_dup_choice")
        if state.get("case_dup_choice") == "follow":
            return out  # nothing more to ask: they follow the existing case
    out += [f"case_{f}" for f in ("photo", "time", "description") if f in fields]
    return [*out, "case_confirm"]


def next_slot(state: dict[str, Any], cat: Catalogue | None = None) -> str | None:
    return next((s for s in required_slots(state, cat) if state.get(s) is None), None)


def start(service: Service, text: str, msg: Message, photos: list[str] | None = None,
          place_first: str | None = None) -> dict[str, Any]:
    """Slots for a new draft, pre-filled with what the first message already said. `photos`:
    sent before the report began (photo first), attached to this case; `place_first`: a place
    the citizen gave alone just before (place_first()), used when the report names none."""
    slots: dict[str, Any] = dict.fromkeys(DRAFT_SLOTS)
    kept = [p for p in (photos or []) if isinstance(p, str)][-5:]
    slots.update(case_service=service.id, case_intake=uuid.uuid4().hex, case_photos=kept, case_turns=0)
    if kept:
        slots["case_photo"] = kept[0]
    if msg.lat is not None and msg.lon is not None:
        slots.update(_place_slots(places.parse(msg.location_text, msg.lat, msg.lon)))
    elif text:
        place = places.parse(text)
        if place.complete:
            slots.update(_place_slots(place))
    if slots.get("case_location") is None and place_first:
        earlier = places.parse(place_first)
        if earlier.complete:
            slots.update(_place_slots(earlier))
    if text:
        # The citizen's own words stay in the case ("擋住車庫"), whether or not the service
        # asks for a description: staff read them, the summary shows them.
        slots["case_description"] = text[:4000]
    if msg.image_id:
        slots.update(case_photo=slots.get("case_photo") or msg.image_id,
                     case_photos=[*kept, msg.image_id][-5:])
    return slots


SHARE_PREFIX = "share:"  # a shared position waiting for the citizen's yes, in case_location_draft


def _pending_share(state: dict[str, Any]) -> tuple[float, float] | None:
    draft = state.get("case_location_draft") or ""
    if not isinstance(draft, str) or not draft.startswith(SHARE_PREFIX):
        return None
    try:
        lat, lon = (float(v) for v in draft[len(SHARE_PREFIX):].split(","))
    except ValueError:
        return None
    return lat, lon


def place_first(text: str, lang: str) -> tuple[Outgoing, str] | None:
    """A message that is only a place ("三民區建工路100号", the web page's address box) outside a
    form: read back, and asked what is wrong there, instead of a guess at a service. Returns the
    reply and the place's text, which the report that follows uses (start(place_first=...))."""
    if not text or not places.looks_like_address(text):
        return None
    place = places.parse(text)
    if place.out_of_city or not place.complete:
        return None
    said = t(lang, f"{places.readback(place, lang)}請問這裡有什麼問題呢？（例如：路燈不亮、路面坑洞、垃圾沒收）",
             f"{places.readback(place, lang)} What is the problem there? (e.g. a street light out, a pothole)")
    return Outgoing(text=said, custom={"type": "answer", "service": ""}), place.text


def _place_slots(place: places.Place) -> dict[str, Any]:
    # A road address is kept as the parsed address ("三民區 建工路100號"), not the whole message it
    # came in ("三民區建工路100號路燈不亮": the problem is the description); a landmark or a shared
    # position as said or described.
    text = place.words() if place.road and not place.shared else place.text
    text = text or (f"{place.lat:.5f}, {place.lon:.5f}" if place.lat is not None else "")
    return {"case_location": text, "case_district": place.district, "case_road": place.road,
            "case_lat": place.lat, "case_lon": place.lon, "case_location_draft": None,
            "case_duplicate": None, "case_dup_choice": None}


def photo_first(state: dict[str, Any], msg: Message) -> Step:
    """A photo sent before any words (no report under way): kept in `case_photos` for the
    case that follows (start() takes it), and the citizen is asked what is wrong."""
    photos = [p for p in (state.get("case_photos") or []) if isinstance(p, str)]
    if msg.image_id and msg.image_id not in photos:
        photos = [*photos, msg.image_id][-5:]
    text = form_phrases.load().photo_first.get("en" if msg.lang == "en" else "zh") or t(
        msg.lang, "收到您的照片了。請問是什麼問題、在哪裡？", "Got your photo. What is the problem, and where?")
    # The question a case begins with: what is wrong (case_field description, no service yet).
    return Step(slots={"case_photos": photos},
                say=[Outgoing(text=text, custom={"type": "case_field", "field": "description", "service": ""})])


def happening_now(service: Service, lang: str = "zh") -> str:
    """For reports usually happening as they are made (noise at night, a fight next door):
    that 110 handles what is happening now; "" for other services."""
    known = form_phrases.load()
    if service.id not in known.happening_now:
        return ""
    text = known.happening_now_text.get("en" if lang == "en" else "zh") or ""
    return _fill(text, {"case_service": service.id}, lang)


def _retry_buttons(lang: str, skip: bool = False) -> list[Button]:
    """A question asked again in other words replaces the form's own (actions/cases.py), so it
    carries the same buttons."""
    cancel = Button(t(lang, "取消通報", "Cancel"), "/cancel_case")
    return [Button(t(lang, "略過", "Skip"), "/skip_field"), cancel] if skip else [cancel]


def _cancelled(lang: str) -> Step:
    slots: dict[str, Any] = dict.fromkeys(DRAFT_SLOTS)
    return Step(slots=slots, say=[Outgoing(text=t(lang, "好的，已取消這次通報，不會立案。有需要隨時再告訴我。",
                                                 "OK, the report is cancelled; nothing was filed."),
                                           custom={"type": "answer"})], stop=True)


def interpret(state: dict[str, Any], msg: Message, cat: Catalogue | None = None) -> Step:
    """How one message (an answer to `requested_slot`) changes the draft."""
    cat = cat or catalogue()
    lang = msg.lang
    requested = state.get("requested_slot")
    step = Step(slots={"case_turns": int(state.get("case_turns") or 0) + 1})
    rule = emergency.detect(msg.text) if msg.text else None
    if rule is not None:
        svc = cat.services[rule.service]
        from bot.replies import emergency_custom

        step.say.append(Outgoing(text=svc.answer(lang), custom=emergency_custom(svc.agency)))
        step.slots.update(dict.fromkeys(DRAFT_SLOTS))
        step.stop = True
        return step
    if asking.asks_for_person(msg.text) or (msg.intent == "human_handoff" and msg.confidence >= INTENT_MIN):
        # The gateway hands over on the phrases before Rasa (bot.handoff.hook); this is the
        # catalogue's hand-over answer, which the hook turns into the same hand-over. The
        # draft is kept and the form asks its question again (outside staffed hours the
        # assistant goes on).
        step.say.append(_handoff_answer(cat, lang))
        return step
    faq = form_phrases.question(msg.text) if msg.text else None
    if faq is not None:  # "送出後會馬上有人來嗎？": answered; the form asks its question again
        step.say.append(Outgoing(text=_fill(faq.en if lang == "en" else faq.zh, state, lang, cat),
                                 custom={"type": "answer", "service": state.get("case_service") or ""}))
        return step
    if msg.said("cancel_case", _CANCEL):
        return _cancelled(lang)
    if msg.image_id:
        photos = [*(state.get("case_photos") or []), msg.image_id][-5:]
        step.slots.update(case_photos=photos, case_photo=state.get("case_photo") if state.get("case_photo")
                          not in (None, NONE) else msg.image_id)
        if not msg.text:
            return step  # a photo sent at any point is kept; the question stays the same
    pending_share = _pending_share(state)
    if pending_share is not None and not (msg.lat is not None and msg.lon is not None):
        # The answer to "use the shared position instead of the address you typed?"
        step.slots["case_location_draft"] = None
        if msg.said("affirm", _YES):
            place = places.parse("", *pending_share)
            step.slots.update(_place_slots(place), case_confirm=None)
            step.say.append(Outgoing(text=places.readback(place, lang), custom={
                "type": "answer", "service": state.get("case_service") or ""}))
            return step
        if msg.said("deny", _NO):
            step.say.append(Outgoing(text=t(lang, f"好的，保留原地址：{state.get('case_location')}。",
                                             f"OK, keeping the address: {state.get('case_location')}."),
                                     custom={"type": "answer", "service": state.get("case_service") or ""}))
            return step
    if msg.lat is not None and msg.lon is not None:
        place = places.parse(msg.location_text, msg.lat, msg.lon)
        if place.out_of_city:
            step.say.append(Outgoing(text=t(lang, "這個位置不在高雄市範圍內，請確認後再傳一次。",
                                             "That location is outside Kaohsiung; please check it."),
                                     buttons=_retry_buttons(lang), custom=field_payload("location", state, retry=True)))
            return step
        typed = state.get("case_location") if state.get("case_lat") is None else None
        question = places.confirm_replace(typed, place, lang)
        if question is not None:
            # A shared position does not silently replace an address the citizen typed: asked
            # first; the position waits in the location draft slot meanwhile.
            step.slots["case_location_draft"] = f"{SHARE_PREFIX}{place.lat:.6f},{place.lon:.6f}"
            step.say.append(Outgoing(text=question, custom=field_payload("location", state, retry=True),
                                     buttons=[Button(t(lang, "用傳送的位置", "Use the shared location"), "/affirm"),
                                              Button(t(lang, "保留原地址", "Keep my address"), "/deny")]))
            return step
        step.slots.update(_place_slots(place))
        step.say.append(Outgoing(text=places.readback(place, lang), custom={
            "type": "answer", "service": state.get("case_service") or ""}))
        return step
    if msg.text and _correct(state, msg, step):
        return step
    if msg.said("correct_location", _FIX_LOCATION):
        step.slots.update(case_location=None, case_district=None, case_road=None, case_lat=None, case_lon=None,
                          case_duplicate=None, case_dup_choice=None, case_confirm=None)
        return step
    if msg.said("correct_description", _FIX_DESCRIPTION):
        step.slots.update(case_description=None, case_confirm=None)
        return step
    if msg.text and form_phrases.is_question(msg.text) and not _answers(requested or "", msg):
        # Another service's facts when the NLU is sure; else, where free text is asked for, a
        # question-like text may still be the answer ("不知道怎麼回事一直漏水？").
        other = _other_service(state, msg, cat)
        if other is not None or requested not in ("case_time", "case_description"):
            step.say.append(other or _question_waits(state, msg.lang))
            return step
    if msg.text and requested in _NEW_PROBLEM_SLOTS and not _answers(requested, msg):
        other = _new_problem(state, msg, cat)
        if other is not None:  # "路燈也壞了" while the pothole's photo is asked for: one case at a time
            step.say.append(other)
            return step
    if msg.text and requested in _DONT_KNOW and form_phrases.says_dont_know(msg.text):
        _DONT_KNOW[requested](state, msg, step)
        return step
    handler = _ANSWERS.get(requested or "")
    if handler is not None:
        handler(state, msg, step)
    return step


def _handoff_answer(cat: Catalogue, lang: str) -> Outgoing:
    svc = cat.services.get("human_handoff")
    text = svc.answer(lang) if svc else t(lang, "好的，幫您轉給真人客服。", "OK, passing you to a person.")
    return Outgoing(text=text, custom={"type": "answer", "service": "human_handoff"})


def _fill(text: str, state: dict[str, Any], lang: str, cat: Catalogue | None = None) -> str:
    """{agency} and {days} of the service being reported."""
    svc = service_of(state, cat)
    agency = (_agency_zh(svc) if lang != "en" else _agency_en(svc)) if svc else t(lang, "承辦單位", "the agency")
    days = ""
    if svc and svc.expected_days:
        days = t(lang, f"，一般在 {svc.expected_days} 天內處理", f", usually within {svc.expected_days} days")
    return text.replace("{agency}", agency).replace("{days}", days)


def _agency_en(svc: Service) -> str:
    agency = catalogue().agency(svc.agency)
    return (agency.en or agency.zh) if agency else svc.agency


def _answers(requested: str, msg: Message) -> bool:
    """Whether a message that reads as a question could still be the answer asked for
    ("三民區建工路100號嗎？" is a place, "好嗎" a yes)."""
    if requested == "case_location":
        return places.parse(msg.text, answer=True).found_anything
    if requested == "case_plate":
        return _plate_in(msg.text) is not None
    if requested in ("case_dup_choice", "case_confirm"):
        return msg.said("affirm", _YES) or msg.said("deny", _NO)
    return False


def _other_service(state: dict[str, Any], msg: Message, cat: Catalogue) -> Outgoing | None:
    """A question about another service the NLU is sure of: its facts (never a report service:
    that would be a second case, told after this one)."""
    svc = cat.services.get(msg.intent)
    if (svc is None or msg.confidence < 0.6 or svc.id == state.get("case_service") or svc.id in _FORM_INTENTS
            or svc.kind not in ("inquiry", "application", "external")):
        return None
    agency = cat.agency(svc.agency)
    who = (agency.en or agency.zh) if agency and msg.lang == "en" else (agency.zh if agency else svc.agency)
    head = t(msg.lang, f"【{svc.name_zh}】由{who}處理。", f"{svc.name('en')}: handled by {who}.")
    return Outgoing(text=f"{head}\n{svc.answer(msg.lang)}",
                    custom={"type": "routed", "agency": svc.agency, "unit": svc.unit, "service": svc.id,
                            "confidence": msg.confidence, "act": "question"})


# Where a message that is not the answer may be a new problem (free-text fields take anything).
_NEW_PROBLEM_SLOTS = ("case_location", "case_photo", "case_dup_choice", "case_confirm")


def _new_problem(state: dict[str, Any], msg: Message, cat: Catalogue) -> Outgoing | None:
    """Another report the NLU is sure of, told mid-form: said it is noted as a separate matter
    for after this one, not taken as this form's answer."""
    svc = cat.services.get(msg.intent)
    current = service_of(state, cat)
    if (svc is None or current is None or svc.kind != "report" or svc.id == current.id or msg.confidence < 0.8
            or len(msg.text) < 4):
        return None
    text = t(msg.lang, f"這聽起來是另一件事（{svc.name_zh}）。我們先把這件【{current.name_zh}】完成，"
                       "完成後再告訴我一次就可以另外通報；不想報這件了請說「取消」。",
             f"That sounds like another matter ({svc.name('en')}). Let us finish this report "
             f"({current.name('en')}) first, then tell me again; say 'cancel' to drop this one.")
    return Outgoing(text=text, custom={"type": "answer", "service": current.id})


def _question_waits(state: dict[str, Any], lang: str) -> Outgoing:
    other = form_phrases.load().question_other
    text = other.get("en" if lang == "en" else "zh") or t(
        lang, "完成或取消這次通報後可以再問我，或撥打 1999 市民專線。",
        "Ask me again once this report is filed or cancelled, or call 1999.")
    return Outgoing(text=text, custom={"type": "answer", "service": state.get("case_service") or ""})


def _correct(state: dict[str, Any], msg: Message, step: Step) -> bool:
    """A correction carrying its new value updates the draft at once; False: not one."""
    m = _CORRECTION.match(msg.text.strip())
    if m is None:
        return False
    named = _FIELD_WORDS.get(m.group(1) or m.group(2) or "")
    value = m.group(3).strip(" ，,。.")
    fields = set(required_slots(state))
    lang = msg.lang
    plate = _plate_in(value)
    if named == "plate" or (named is None and plate is not None and "case_plate" in fields):
        if plate is None:
            return False
        step.slots.update(case_plate=plate, case_confirm=None)
        step.say.append(Outgoing(text=t(lang, f"好的，車牌改為 {plate}。", f"OK, the plate is now {plate}."),
                                 custom={"type": "answer", "service": state.get("case_service") or ""}))
        return True
    if named in (None, "location") and "case_location" in fields:
        place = places.parse(value, answer=True)
        if not place.complete and place.road and not place.district and state.get("case_district"):
            place = places.parse(f"{state['case_district']}{value}", answer=True)  # "不對，是建工路"
        if place.complete and not place.out_of_city:
            step.slots.update(_place_slots(place), case_confirm=None)
            said = t(lang, f"好的，地點改為：{place.text}。", f"OK, the place is now: {place.text}.")
            step.say.append(Outgoing(text=said, custom={"type": "answer", "service": state.get("case_service") or ""}))
            return True
        if named == "location":
            return False  # "地址改一下": cleared and asked again below
    if named == "description" or (named == "time" and "case_time" in fields):
        slot = f"case_{named}"
        step.slots.update({slot: value[:4000], "case_confirm": None})
        label = t(lang, "時間" if named == "time" else "說明", named)
        said = t(lang, f"好的，{label}改為：{value[:120]}。", f"OK, the {label} is now: {value[:120]}.")
        step.say.append(Outgoing(text=said, custom={"type": "answer", "service": state.get("case_service") or ""}))
        return True
    return False


def _add_detail(state: dict[str, Any], step: Step, detail: str) -> None:
    """Something the citizen added on the way ("擋住車庫"): it joins the case description."""
    detail = detail.strip(" ，,。.")
    if len(detail) < 2:
        return
    current = step.slots.get("case_description", state.get("case_description"))
    current = "" if current in (None, NONE) else str(current)
    if detail in current:
        return
    step.slots["case_description"] = (f"{current}；{detail}" if current else detail)[:4000]


def offered(customs: list[dict[str, Any]]) -> dict[str, int]:
    """How often this draft has offered another way of giving a field (case_field replies with
    `alternative`): the adapter reads them from the conversation's events since the draft
    began, the tests from what was said. After the second "不知道" the form goes on."""
    counts: dict[str, int] = {}
    for custom in customs:
        if (custom or {}).get("type") == "case_field" and custom.get("alternative"):
            counts[custom["field"]] = counts.get(custom["field"], 0) + 1
    return counts


def _times_offered(state: dict[str, Any], fld: str) -> int:
    return int((state.get("case_offered") or {}).get(fld, 0))


def _unknown_plate(state: dict[str, Any], msg: Message, step: Step) -> None:
    if _times_offered(state, "plate"):
        step.slots["case_plate"] = UNKNOWN_PLATE  # asked twice: go on without it
        step.say.append(Outgoing(text=t(msg.lang, "沒關係，車牌不明也可以立案，承辦單位會依地點與說明處理。",
                                         "That is fine: it can be filed without the plate."),
                                 custom={"type": "answer", "service": state.get("case_service") or ""}))
        return
    step.say.append(_vehicle_question(state, msg.lang))


def _vehicle_question(state: dict[str, Any], lang: str) -> Outgoing:
    return Outgoing(text=t(lang, "沒關係，不知道車牌也可以通報。請描述一下車子：顏色、廠牌或車型、停在哪個位置"
                                 "（例如：白色 Toyota 休旅車，停在車庫門口）。",
                           "That is fine. Please describe the vehicle instead: colour, make or type, and where "
                           "it is parked (e.g. a white Toyota SUV in front of the garage)."),
                    buttons=[Button(t(lang, "取消通報", "Cancel"), "/cancel_case")],
                    custom=field_payload("plate", state, retry=True, alternative="vehicle"))


def _unknown_location(state: dict[str, Any], msg: Message, step: Step) -> None:
    if _times_offered(state, "location"):
        step.slots.update(case_location=NONE, case_location_draft=None)
        _add_detail(state, step, t(msg.lang, "地點不明", "place unknown"))
        step.say.append(Outgoing(
            text=t(msg.lang, "好的，地點先記為不明；承辦單位需要時會透過這裡向您確認。",
                   "OK, the place is noted as unknown; the agency will ask you here if they need it."),
            custom={"type": "answer", "service": state.get("case_service") or ""}))
        return
    step.slots["case_location_draft"] = None
    step.say.append(Outgoing(
        text=t(msg.lang, "沒關係，說說附近的地標也可以（例如：某某國小、公園、超商、廟、路口），"
                         "或直接傳送位置資訊分享您現在的位置。",
               "That is fine: name a landmark nearby (a school, park, shop, temple or crossing), "
               "or share your location."),
        buttons=[Button(t(msg.lang, "取消通報", "Cancel"), "/cancel_case")],
        custom=field_payload("location", state, retry=True, alternative="landmark")))


def _unknown_optional(slot: str) -> Any:
    def handle(state: dict[str, Any], msg: Message, step: Step) -> None:
        step.slots[slot] = NONE  # an optional field not known is a skipped one
    return handle


_DONT_KNOW = {"case_plate": _unknown_plate, "case_location": _unknown_location,
              "case_time": _unknown_optional("case_time"), "case_description": _unknown_optional("case_description"),
              "case_photo": _unknown_optional("case_photo")}


def _location(state: dict[str, Any], msg: Message, step: Step) -> None:
    lang = msg.lang
    svc = service_of(state)
    if svc and "location" not in svc.needs and msg.said("skip_field", _SKIP):
        step.slots["case_location"] = NONE
        return
    draft = state.get("case_location_draft") or ""
    if draft.startswith(SHARE_PREFIX):
        draft = ""
    place = places.parse(f"{draft} {msg.text}".strip() if draft else msg.text, answer=True)
    if place.out_of_city:
        step.say.append(Outgoing(text=t(lang, OUTSIDE_ZH, OUTSIDE_EN),
                                 buttons=_retry_buttons(lang), custom=field_payload("location", state, retry=True)))
        step.slots["case_location_draft"] = None
    elif place.complete:
        step.slots.update(_place_slots(place))
        step.say.append(Outgoing(text=places.readback(place, lang), custom={
            "type": "answer", "service": state.get("case_service") or ""}))
    elif _times_offered(state, "location") and msg.text:
        # A landmark in the citizen's words after "不知道" ("家樂福旁邊"): taken as they said it
        # rather than asked a third time; staff read it with the case.
        step.slots.update(_place_slots(place))
    elif place.district and not place.road:
        step.slots["case_location_draft"] = place.text
        step.say.append(Outgoing(text=t(lang, f"好的，在{place.district}。請問是哪條路、門牌或附近的地標？",
                                         f"OK, in {place.district}. Which road, house number or landmark?"),
                                 buttons=_retry_buttons(lang), custom=field_payload("location", state, retry=True)))
    elif place.road:
        step.slots["case_location_draft"] = place.text
        step.say.append(Outgoing(text=t(lang, f"請問「{place.road}」在哪一區？（例如：三民區）",
                                         f"Which district is {place.road} in? (e.g. Sanmin District)"),
                                 buttons=_retry_buttons(lang), custom=field_payload("location", state, retry=True)))
    else:
        step.slots["case_location_draft"] = None
        step.say.append(Outgoing(text=t(lang, NO_PLACE_ZH, NO_PLACE_EN),
                                 buttons=_retry_buttons(lang), custom=field_payload("location", state, retry=True)))


def _dup_choice(state: dict[str, Any], msg: Message, step: Step) -> None:
    if msg.said("affirm", _YES) or msg.intent == "follow_case":
        step.slots["case_dup_choice"] = "follow"
    elif msg.said("deny", _NO):
        step.slots["case_dup_choice"] = "new"


def _photo(state: dict[str, Any], msg: Message, step: Step) -> None:
    if msg.said("skip_field", _SKIP) or msg.said("deny", _NO):
        step.slots["case_photo"] = NONE
    elif len(msg.text) >= 4:
        # A detail volunteered while the photo is asked for ("車子已經停三天了"): kept.
        _add_detail(state, step, msg.text)
        step.say.append(Outgoing(text=t(msg.lang, "好的，已補充到案件說明。", "OK, added to the description."),
                                 custom={"type": "answer", "service": state.get("case_service") or ""}))
    elif msg.text:
        step.say.append(Outgoing(text=t(msg.lang, "請直接傳送照片；沒有照片的話按「略過」。",
                                         "Please send a photo, or tap Skip."),
                                 buttons=_retry_buttons(msg.lang, skip=True),
                                 custom=field_payload("photo", state, retry=True)))


def _free_text(slot: str) -> Any:
    def handle(state: dict[str, Any], msg: Message, step: Step) -> None:
        if msg.said("skip_field", _SKIP):
            step.slots[slot] = NONE
        elif msg.text:
            step.slots[slot] = msg.text[:4000]
    return handle


def _plate_in(text: str) -> str | None:
    """A plate typed in `text` ("abc 1234" → "ABC-1234"): letters and digits, or six or more
    digits (a bare "12 34" is more likely a house number than a plate)."""
    m = _PLATE.search(text.upper())
    if m is None or not re.search(r"\d", m.group(0)):
        return None
    if re.search(r"[A-Z]", m.group(0)) or len(m.group(1) + m.group(2)) >= 6:
        return f"{m.group(1)}-{m.group(2)}"
    return None


def _plate(state: dict[str, Any], msg: Message, step: Step) -> None:
    svc = service_of(state)
    if svc and "plate" not in svc.needs and msg.said("skip_field", _SKIP):
        step.slots["case_plate"] = NONE
        return
    plate = _plate_in(msg.text)
    if plate is not None:
        step.slots["case_plate"] = plate
        m = _PLATE.search(msg.text.upper())
        rest = (msg.text[:m.start()] + msg.text[m.end():]) if m else ""
        if len(re.sub(r"[\W_]|車牌|車號|是", "", rest)) >= 2:  # "ABC-1234，擋住車庫"
            _add_detail(state, step, rest)
    elif msg.text and _times_offered(state, "plate"):
        # The vehicle described instead of the plate: kept in the case, the plate left unknown.
        step.slots["case_plate"] = UNKNOWN_PLATE
        _add_detail(state, step, t(msg.lang, f"車輛：{msg.text}", f"vehicle: {msg.text}"))
    elif msg.text:
        # Not a plate (often a description of the car): one more chance, the other way round.
        step.say.append(_vehicle_question(state, msg.lang))


def _confirm(state: dict[str, Any], msg: Message, step: Step) -> None:
    if msg.said("affirm", _YES):
        step.slots["case_confirm"] = "yes"
        return
    place = places.parse(msg.text) if msg.text else None
    if place is not None and place.complete:  # a corrected address typed at the summary
        step.slots.update(_place_slots(place))
        return
    if msg.said("deny", _NO) or msg.text:
        step.say.append(Outgoing(
            text=t(msg.lang, "要修改哪一項？", "What should I change?"),
            buttons=[Button(t(msg.lang, "修改地點", "Change place"), "/correct_location"),
                     Button(t(msg.lang, "修改說明", "Change description"), "/correct_description"),
                     Button(t(msg.lang, "取消通報", "Cancel"), "/cancel_case")],
            custom=field_payload("change", state)))


_ANSWERS = {"case_location": _location, "case_dup_choice": _dup_choice, "case_photo": _photo,
            "case_time": _free_text("case_time"), "case_description": _free_text("case_description"),
            "case_plate": _plate, "case_confirm": _confirm}


def check_duplicates(state: dict[str, Any]) -> dict[str, Any]:
    """Once a place is known: the open case this may repeat ("" = looked, none found)."""
    if state.get("case_duplicate") is not None or state.get("case_location") in (None, NONE):
        return {}
    # The address as typed: with its house number or lane a road matches (never the whole road).
    found = dedupe.find_duplicates(state["case_service"], state.get("case_lat"), state.get("case_lon"),
                                   state.get("case_road"), state.get("case_district"), limit=1,
                                   location=state.get("case_location"))
    return {"case_duplicate": found[0].number if found else ""}


# What the form says when it asks for a slot.

# The reply protocol's name of the field each slot asks for (case_field.field).
FIELDS = {"case_location": "location", "case_plate": "plate", "case_dup_choice": "duplicate", "case_photo": "photo",
          "case_time": "time", "case_description": "description", "case_confirm": "confirm"}


def ask(slot: str, state: dict[str, Any], lang: str = "zh") -> list[Outgoing]:
    out = _question(slot, state, lang)
    for o in out:
        if o.custom is None:
            extra = {"duplicate": state.get("case_duplicate") or ""} if slot == "case_dup_choice" else {}
            o.custom = field_payload(FIELDS[slot], state, **extra)
    return out


def _question(slot: str, state: dict[str, Any], lang: str = "zh") -> list[Outgoing]:
    skip = Button(t(lang, "略過", "Skip"), "/skip_field")
    cancel = Button(t(lang, "取消通報", "Cancel"), "/cancel_case")
    if slot == "case_location":
        return [Outgoing(text=t(lang, "請問在哪裡？可以傳送位置資訊，或輸入地址（區＋路名門牌）或「區＋地標」。",
                                "Where is it? Share your location, or type the address or a landmark."),
                         buttons=[cancel])]
    if slot == "case_plate":
        return [Outgoing(text=t(lang, "請問車牌號碼是？", "What is the plate number?"), buttons=[cancel])]
    if slot == "case_dup_choice":
        number = state.get("case_duplicate")
        case = store.get_case(number) if number else None
        status = store.STATUS_ZH.get(case.status, "") if case else ""
        return [Outgoing(
            text=t(lang, f"附近已經有人通報同樣的問題（案件 {number}，{status}）。要改為追蹤這件，處理進度會通知您嗎？",
                   f"This was already reported nearby (case {number}). Follow it instead and get its updates?"),
            buttons=[Button(t(lang, "追蹤這件", "Follow it"), "/affirm"),
                     Button(t(lang, "仍要另外通報", "File a new one"), "/deny"), cancel])]
    if slot == "case_photo":
        return [Outgoing(text=t(lang, "有照片的話請直接傳送，可以幫助更快處理；沒有的話按「略過」。",
                                "If you have a photo, send it now; otherwise tap Skip."), buttons=[skip, cancel])]
    if slot == "case_time":
        return [Outgoing(text=t(lang, "大約是什麼時候發生的（例如：每天晚上10點後）？", "When does it happen?"),
                         buttons=[skip, cancel])]
    if slot == "case_description":
        return [Outgoing(text=t(lang, "請簡單描述狀況。", "Please describe the problem briefly."),
                         buttons=[skip, cancel])]
    if slot == "case_confirm":
        return [summary(state, lang)]
    return []


def summary(state: dict[str, Any], lang: str = "zh") -> Outgoing:
    svc = service_of(state)
    name = svc.name(lang) if svc else ""
    fields = {
        t(lang, "項目", "Service"): name,
        t(lang, "地點", "Place"): _shown(state.get("case_location"), lang),
        t(lang, "照片", "Photos"): (str(len(state.get("case_photos") or []))
                                    if "case_photo" in required_slots(state) else None),
        t(lang, "時間", "Time"): _shown(state.get("case_time"), lang) if state.get("case_time") else None,
        t(lang, "車牌", "Plate"): _shown(state.get("case_plate"), lang) if state.get("case_plate") else None,
        t(lang, "說明", "Description"): _shown(state.get("case_description"), lang),
    }
    rows = [(k, v) for k, v in fields.items() if v]
    text = t(lang, "請確認通報內容：\n", "Please confirm:\n") + "\n".join(f"{k}：{v}" for k, v in rows)
    return Outgoing(
        text=text,
        buttons=[Button(t(lang, "確認送出", "Submit"), "/affirm"),
                 Button(t(lang, "修改地點", "Change place"), "/correct_location"),
                 Button(t(lang, "取消通報", "Cancel"), "/cancel_case")],
        # The confirm question: a case_field carrying the draft to confirm (docs/reply_protocol.md).
        custom=field_payload("confirm", state, summary={
            "service": svc.id if svc else "", "service_name": name,
            "location": _shown(state.get("case_location"), lang),
            "description": _shown(state.get("case_description"), lang),
            "fields": [{"label": k, "value": v} for k, v in rows]}),
    )


def _shown(value: Any, lang: str) -> str:
    if value in (None, NONE, ""):
        return t(lang, "（未提供）", "(none)")
    return str(value)[:120]


# Filing, following, listing.

def submit(state: dict[str, Any], channel: str, citizen: str, lang: str = "zh") -> list[Outgoing]:
    """After the form: follow the existing case or file the new one (committed before replying)."""
    svc = service_of(state)
    if svc is None:
        return []
    if state.get("case_dup_choice") == "follow" and state.get("case_duplicate"):
        case = store.follow(state["case_duplicate"], channel, citizen)
        # The follower learns the problem is known and where it stands, never the first
        # reporter's words, address, photos or the staff's notes.
        return [Outgoing(text=t(lang, f"好的，您已追蹤案件 {case.number}，處理進度會通知您。",
                                f"Done: you now follow case {case.number} and will get its updates."),
                         custom=card(case, lang, private=is_reporter(case, channel, citizen)))]
    if state.get("case_confirm") != "yes":
        return []
    extra = {k: state[f"case_{k}"] for k in ("time", "plate") if state.get(f"case_{k}") not in (None, NONE)}
    location = state.get("case_location")
    new = store.NewCase(
        service=svc.id, channel=channel, citizen=citizen,
        location_text="" if location in (None, NONE) else location,
        district=state.get("case_district"), road=state.get("case_road"),
        lat=state.get("case_lat"), lon=state.get("case_lon"),
        description="" if state.get("case_description") in (None, NONE) else state["case_description"],
        photos=list(state.get("case_photos") or []), extra=extra,
        intake_key=state.get("case_intake") or uuid.uuid4().hex)
    try:
        case = store.file_case(new)
    except (OperationalError, InterfaceError):
        # The database is unreachable: the confirmed case waits in the outbox and is filed
        # (once, by its intake key) when it is back; the citizen then gets the number.
        outbox.keep(new)
        return [Outgoing(text=t(lang, FILING_ZH, FILING_EN), custom={"type": "case_filing", "service": svc.id})]
    return filed(case, lang)


def _agency_zh(svc: Service) -> str:
    agency = catalogue().agency(svc.agency)
    name = agency.zh if agency else svc.agency
    return name if svc.unit in ("", name) else f"{name}{svc.unit}"


def card(case: store.Case, lang: str = "zh", private: bool = True, public_notes: bool = False) -> dict[str, Any]:
    """The case_summary payload. `private=True` is for the reporter only; `private=False` (for
    followers and anyone else) is the public summary: service, agency, district, status.
    `public_notes`: the history keeps only the notes staff marked public (someone with the PIN)."""
    svc = catalogue().service(case.service)
    out: dict[str, Any] = {
        # The LINE renderer reads `number` (`case_id` only as a fallback for older payloads) and service_name.
        "type": "case_summary", "number": case.number, "case_id": case.number, "service": case.service,
        "service_name": svc.name(lang) if svc else case.service, "agency": case.agency, "unit": case.unit,
        "status": case.status, "status_text": (store.STATUS_EN if lang == "en" else store.STATUS_ZH)[case.status],
        "district": case.district,
    }
    if private:
        out.update(location=case.location_text, description=case.description,
                   photos=len(case.photos or []), created_at=store.as_utc(case.created_at).isoformat(),
                   expected_by=store.as_utc(case.expected_by).isoformat() if case.expected_by else None,
                   history=[{"status": e.status, "at": store.as_utc(e.at).isoformat(),
                             "note": e.note if e.public or not public_notes else ""} for e in case.history])
    return out


def my_cases(channel: str, citizen: str, lang: str = "zh") -> list[Outgoing]:
    cases = store.citizen_cases(channel, citizen)
    if not cases:
        return [Outgoing(text=t(lang, "目前查不到您的案件。要通報問題，直接告訴我狀況就可以。\n"
                                "在其他裝置通報過、或清除過對話的話，請輸入案件編號和立案時拿到的 6 位數查詢密碼，"
                                "例如：KH-2612-000123 483920。",
                                "You have no cases yet. Tell me about a problem to report one.\n"
                                "Filed on another device or cleared the chat? Type the case number and the 6-digit PIN "
                                "you were given, e.g. KH-2612-000123 483920."),
                         custom={"type": "case_list", "cases": []})]
    status = store.STATUS_EN if lang == "en" else store.STATUS_ZH
    lines = [f"{c.number} {_name(c, lang)}（{status[c.status]}）{_place_for(c, channel, citizen, lang)}"
             for c in cases]
    return [Outgoing(text=t(lang, "您的案件：\n", "Your cases:\n") + "\n".join(lines),
                     custom={"type": "case_list", "cases": [card(c, lang, private=False) for c in cases]})]


def is_reporter(case: store.Case, channel: str, citizen: str) -> bool:
    return store.is_reporter(case, channel, citizen)


def _place_for(case: store.Case, channel: str, citizen: str, lang: str) -> str:
    """The reporter's own place; a followed case shows only its district."""
    if is_reporter(case, channel, citizen):
        return case.location_text[:20]
    return f"{case.district or ''}{t(lang, '（追蹤中）', ' (following)')}"


def _name(case: store.Case, lang: str) -> str:
    svc = catalogue().service(case.service)
    return svc.name(lang) if svc else case.service


def parse_lookup(text: str) -> tuple[str, str | None] | None:
    """(case number, PIN or None) typed in a message; None when there is no case number."""
    with_pin = CASE_WITH_PIN.search(text)
    if with_pin:
        return with_pin.group(1), with_pin.group(2)
    number = CASE_NUMBER.search(text)
    return (number.group(0), None) if number else None


def normal_number(number: str) -> str:
    """"kh2612000123" → "KH-2612-000123", the form the store keeps."""
    norm = number.strip().upper().replace("KH", "").replace("-", "")
    return f"KH-{norm[:4]}-{norm[4:]}"


def _not_found(number: str, lang: str) -> list[Outgoing]:
    return [Outgoing(text=t(lang, f"查不到案件 {number}，請確認編號。", f"No case {number}; please check the number."),
                     custom={"type": "answer", "service": "case_status"})]


def _public_summary(case: store.Case, lang: str, extra_zh: str, extra_en: str) -> list[Outgoing]:
    status = (store.STATUS_EN if lang == "en" else store.STATUS_ZH)[case.status]
    where = f"，{case.district}" if case.district else ""
    where_en = f", {case.district}" if case.district else ""
    zh = f"案件 {case.number}（{_name(case, lang)}{where}）目前狀態：{status}。{extra_zh}"
    en = f"Case {case.number} ({_name(case, lang)}{where_en}) is {status}. {extra_en}"
    return [Outgoing(text=t(lang, zh, en), custom=card(case, lang, private=False))]


def lookup(number: str, channel: str, citizen: str, lang: str = "zh", pin: str | None = None) -> list[Outgoing]:
    """A case number typed in chat: details for its reporter only. Numbers are sequential (anyone
    can guess one), and a follower is a stranger too: both get the public summary. On another
    device (or after the chat was cleared) the number with the right PIN opens the history with
    its public notes (store.check_pin limits wrong PINs per case)."""
    number = normal_number(number)
    case = store.get_case(number)
    if case is None:
        return _not_found(number, lang)
    status = (store.STATUS_EN if lang == "en" else store.STATUS_ZH)[case.status]
    if not is_reporter(case, channel, citizen):
        if pin:
            return with_pin(number, pin, lang)
        return _public_summary(case, lang,
                               "詳細內容只提供給通報人；您是通報人的話，請輸入立案時拿到的 6 位數查詢密碼。",
                               "Details are shown only to its reporter; if that is you, type the 6-digit PIN "
                               "you were given when it was filed.")
    last = case.history[-1] if case.history else None
    note = f"\n最新說明：{last.note}" if last and last.note else ""
    place = case.location_text or "（未提供）"
    return [Outgoing(text=t(lang, f"案件 {number}：{_name(case, lang)}，{status}。\n地點：{place}{note}",
                            f"Case {number}: {_name(case, lang)}, {status}.\nPlace: {case.location_text or '(none)'}"),
                     custom=card(case, lang))]


def with_pin(number: str, pin: str, lang: str = "zh") -> list[Outgoing]:
    """The case for whoever holds its PIN: status history with the notes staff made public (never
    the internal ones). A wrong PIN gets the public summary; too many lock the case for a while."""
    number = normal_number(number)
    checked = store.check_pin(number, pin)
    if checked.outcome == "missing":
        return _not_found(number, lang)
    if checked.outcome == "locked" or checked.case is None:
        minutes = max(1, -(-checked.retry_after // 60))
        return [Outgoing(text=t(lang, f"案件 {number} 的查詢密碼錯誤次數太多，請 {minutes} 分鐘後再試；"
                                      "急事或忘記密碼請撥打 1999 市民專線。",
                                f"Too many wrong PINs for case {number}. Try again in {minutes} minutes; "
                                "for anything urgent, or a forgotten PIN, call 1999."),
                         custom={"type": "answer", "service": "case_status"})]
    case = checked.case
    if checked.outcome != "ok":
        return _public_summary(case, lang, "查詢密碼不正確，只能顯示公開資訊；忘記密碼請撥打 1999 市民專線。",
                               "That PIN is not right, so only the public summary is shown; "
                               "forgot it? Call 1999.")
    statuses = store.STATUS_EN if lang == "en" else store.STATUS_ZH
    lines = [f"{store.as_utc(e.at).astimezone(store.TAIPEI):%m/%d %H:%M} {statuses.get(e.status, e.status)}"
             + (f"：{e.note}" if e.public and e.note else "") for e in case.history]
    place = case.location_text or t(lang, "（未提供）", "(none)")
    head = f"{_name(case, lang)}，{statuses[case.status]}"
    zh = f"案件 {number}：{head}。\n地點：{place}\n處理紀錄：\n" + "\n".join(lines)
    en = f"Case {number}: {_name(case, lang)}, {statuses[case.status]}.\nPlace: {place}\nHistory:\n" + "\n".join(lines)
    return [Outgoing(text=t(lang, zh, en), custom=card(case, lang, public_notes=True))]


def split_sender(sender_id: str) -> tuple[str, str]:
    """Rasa's sender id is f"{channel}-{pseudonym}" (bot.conversation)."""
    channel, _, citizen = sender_id.partition("-")
    return (channel, citizen) if citizen else ("rest", sender_id)
