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
from bot.cases import dedupe, outbox, places, store
from bot.catalogue import Catalogue, Service, catalogue
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


def start(service: Service, text: str, msg: Message) -> dict[str, Any]:
    """Slots for a new draft, pre-filled with what the first message already said."""
    slots: dict[str, Any] = dict.fromkeys(DRAFT_SLOTS)
    slots.update(case_service=service.id, case_intake=uuid.uuid4().hex, case_photos=[], case_turns=0)
    if msg.lat is not None and msg.lon is not None:
        slots.update(_place_slots(places.parse(msg.location_text, msg.lat, msg.lon)))
    elif text:
        place = places.parse(text)
        if place.complete:
            slots.update(_place_slots(place))
    if text and "description" in set(service.needs) | set(service.optional):
        slots["case_description"] = text[:4000]
    if msg.image_id:
        slots.update(case_photo=msg.image_id, case_photos=[msg.image_id])
    return slots


def _place_slots(place: places.Place) -> dict[str, Any]:
    text = place.text or (f"{place.lat:.5f}, {place.lon:.5f}" if place.lat is not None else "")
    return {"case_location": text, "case_district": place.district, "case_road": place.road,
            "case_lat": place.lat, "case_lon": place.lon, "case_location_draft": None,
            "case_duplicate": None, "case_dup_choice": None}


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
    if msg.said("cancel_case", _CANCEL):
        return _cancelled(lang)
    if msg.image_id:
        photos = [*(state.get("case_photos") or []), msg.image_id][-5:]
        step.slots.update(case_photos=photos, case_photo=state.get("case_photo") if state.get("case_photo")
                          not in (None, NONE) else msg.image_id)
        if not msg.text:
            return step  # a photo sent at any point is kept; the question stays the same
    if msg.lat is not None and msg.lon is not None:
        place = places.parse(msg.location_text, msg.lat, msg.lon)
        if place.out_of_city:
            step.say.append(Outgoing(text=t(lang, "這個位置不在高雄市範圍內，請確認後再傳一次。",
                                             "That location is outside Kaohsiung; please check it."),
                                     custom=field_payload("location", state, retry=True)))
        else:
            step.slots.update(_place_slots(place))
        return step
    if msg.said("correct_location", _FIX_LOCATION):
        step.slots.update(case_location=None, case_district=None, case_road=None, case_lat=None, case_lon=None,
                          case_duplicate=None, case_dup_choice=None, case_confirm=None)
        return step
    if msg.said("correct_description", _FIX_DESCRIPTION):
        step.slots.update(case_description=None, case_confirm=None)
        return step
    handler = _ANSWERS.get(requested or "")
    if handler is not None:
        handler(state, msg, step)
    return step


def _location(state: dict[str, Any], msg: Message, step: Step) -> None:
    lang = msg.lang
    svc = service_of(state)
    if svc and "location" not in svc.needs and msg.said("skip_field", _SKIP):
        step.slots["case_location"] = NONE
        return
    draft = state.get("case_location_draft") or ""
    place = places.parse(f"{draft} {msg.text}".strip() if draft else msg.text, answer=True)
    if place.out_of_city:
        step.say.append(Outgoing(text=t(lang, OUTSIDE_ZH, OUTSIDE_EN),
                                 custom=field_payload("location", state, retry=True)))
        step.slots["case_location_draft"] = None
    elif place.complete:
        step.slots.update(_place_slots(place))
    elif place.district and not place.road:
        step.slots["case_location_draft"] = place.text
        step.say.append(Outgoing(text=t(lang, f"好的，在{place.district}。請問是哪條路、門牌或附近的地標？",
                                         f"OK, in {place.district}. Which road, house number or landmark?"),
                                 custom=field_payload("location", state, retry=True)))
    elif place.road:
        step.slots["case_location_draft"] = place.text
        step.say.append(Outgoing(text=t(lang, f"請問「{place.road}」在哪一區？（例如：三民區）",
                                         f"Which district is {place.road} in? (e.g. Sanmin District)"),
                                 custom=field_payload("location", state, retry=True)))
    else:
        step.slots["case_location_draft"] = None
        step.say.append(Outgoing(text=t(lang, NO_PLACE_ZH, NO_PLACE_EN),
                                 custom=field_payload("location", state, retry=True)))


def _dup_choice(state: dict[str, Any], msg: Message, step: Step) -> None:
    if msg.said("affirm", _YES) or msg.intent == "follow_case":
        step.slots["case_dup_choice"] = "follow"
    elif msg.said("deny", _NO):
        step.slots["case_dup_choice"] = "new"


def _photo(state: dict[str, Any], msg: Message, step: Step) -> None:
    if msg.said("skip_field", _SKIP) or msg.said("deny", _NO):
        step.slots["case_photo"] = NONE
    elif msg.text:
        step.say.append(Outgoing(text=t(msg.lang, "請直接傳送照片；沒有照片的話按「略過」。",
                                         "Please send a photo, or tap Skip."),
                                 custom=field_payload("photo", state, retry=True)))


def _free_text(slot: str) -> Any:
    def handle(state: dict[str, Any], msg: Message, step: Step) -> None:
        if msg.said("skip_field", _SKIP):
            step.slots[slot] = NONE
        elif msg.text:
            step.slots[slot] = msg.text[:4000]
    return handle


def _plate(state: dict[str, Any], msg: Message, step: Step) -> None:
    svc = service_of(state)
    if svc and "plate" not in svc.needs and msg.said("skip_field", _SKIP):
        step.slots["case_plate"] = NONE
        return
    m = _PLATE.search(msg.text.upper())
    if m and re.search(r"\d", m.group(0)):
        step.slots["case_plate"] = f"{m.group(1)}-{m.group(2)}"
    else:
        step.say.append(Outgoing(text=t(msg.lang, "請輸入車牌號碼，例如 ABC-1234。",
                                         "Please type the plate, e.g. ABC-1234."),
                                 custom=field_payload("plate", state, retry=True)))


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
    found = dedupe.find_duplicates(state["case_service"], state.get("case_lat"), state.get("case_lon"),
                                   state.get("case_road"), state.get("case_district"), limit=1)
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
        # case_id and service_name are what the LINE renderer reads (bot/channels/line_render.py).
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
