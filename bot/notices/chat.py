"""Subscriptions in conversation, handled by the gateway before Rasa (bot.conversation calls
`intercept`; Rasa never sees these turns):

- 「我要訂閱停水通知 三民區」「訂閱停電 苓雅區 前鎮區」: subscribe (no district named: the whole city;
  no topic named: the five topics as buttons);
- 「我的訂閱」: the active subscriptions, each with a button that stops it;
- 「取消訂閱」「取消停水通知」: stop (one subscription, the topics named, or, asked again, all);
- buttons and LINE postbacks: payload `/notices?action=subscribe|list|stop|renew&...` (a "/" payload
  becomes a LINE postback), and a postback whose data is `action=subscribe...` (the rich menu's form).

Only whole commands are taken: a question about subscribing (「如何訂閱電子報？」) goes to Rasa.
Every reply carries custom.type "subscription" (docs/reply_protocol.md).
"""

from __future__ import annotations

import asyncio
import re
from urllib.parse import parse_qs

from bot.messages import Button, Incoming, Outgoing
from bot.nlu.normalise import normalise_text
from bot.notices import subscriptions
from bot.notices import topics as topics_mod
from bot.notices.subscriptions import Sub

PREFIX = "/notices?"
CHANNELS = ("line", "web", "rest")
_POLITE = r"(?:我要|我想要|我想|請幫我|幫我|請)?"
_LIST = re.compile(r"^(?:我的訂閱|查詢?訂閱|訂閱(?:清單|狀態|了什麼|了哪些))$")
_STOP = re.compile(rf"^{_POLITE}(?:取消|停止|退訂|不要再?收)(.*)$")
_SUBSCRIBE = re.compile(rf"^{_POLITE}訂閱(.*)$")
_FILLER = re.compile(r"[\s,，、;；.。!！和與跟及還有的通知訊息消息區域地區資訊全部]+")
_QUESTION = re.compile(r"[?？嗎呢]|如何|怎麼|怎樣|哪裡|多少|可以|能不能|是否")
# The same commands in English (「subscribe to water outage notices 三民區」「my subscriptions」
# 「unsubscribe」「stop the power outage alerts」); a question ("how do I subscribe?") is not one.
_EN_POLITE = r"(?:please\s+)?(?:i\s+(?:want|would\s+like)\s+to\s+|i'd\s+like\s+to\s+)?"
_EN_LIST = re.compile(r"(?i)^(?:show\s+)?(?:my|list(?:\s+my)?)\s+subscriptions?$")
_EN_STOP = re.compile(rf"(?i)^{_EN_POLITE}(?:unsubscribe|stop|cancel)\b(.*)$")
_EN_SUBSCRIBE = re.compile(rf"(?i)^{_EN_POLITE}(?:subscribe|sign\s+(?:me\s+)?up)\b(.*)$")
_EN_FILLER = re.compile(
    r"(?i)\b(?:to|for|from|in|of|the|all|my|me|and|about|notices?|notifications?|alerts?|messages?|"
    r"subscriptions?|please|district|whole|city)\b|[\s,.;!]+")
_EN_QUESTION = re.compile(r"(?i)\?|^(?:how|what|where|when|why|can|could|do|does|is|are)\b")


def _t(text: str) -> str:
    return normalise_text(text or "").strip()


def _parse(msg: Incoming) -> dict[str, str] | None:
    """The command in the message as {action, ...}, or None when it is not about subscriptions."""
    if msg.payload and msg.payload.startswith(PREFIX):
        return {k: v[0] for k, v in parse_qs(msg.payload[len(PREFIX) :]).items()}
    if msg.payload or not msg.text:
        return None
    text = _t(msg.text)
    if text.startswith("action=subscribe") or text.startswith("action=list") or text.startswith("action=stop"):
        return {k: v[0] for k, v in parse_qs(text).items()}  # a postback's data (the rich menu)
    english = _english(text)
    if english is not None or msg.lang == "en":
        return english
    if len(text) > 60 or _QUESTION.search(text):
        return None
    if _LIST.match(text):
        return {"action": "list"}
    compact = text.replace(" ", "")
    stop = _STOP.match(compact)
    if stop and ("訂閱" in compact or "退訂" in compact or "通知" in compact):
        rest = stop.group(1).replace("訂閱", "")
        found = topics_mod.find_topics(rest)
        if _FILLER.sub("", topics_mod.strip_words(rest)):
            return None
        return {"action": "stop", "topics": ",".join(found)}
    sub = _SUBSCRIBE.match(text)
    if sub:
        rest = sub.group(1)
        if _FILLER.sub("", topics_mod.strip_words(rest)):
            return None  # something else was said with it: not a bare command
        return {
            "action": "subscribe",
            "topics": ",".join(topics_mod.find_topics(rest)),
            "districts": ",".join(topics_mod.find_districts(rest)),
        }
    return None


def _english(text: str) -> dict[str, str] | None:
    """An English command (None: not one). District names stay as written (「三民區」)."""
    if len(text) > 80 or _EN_QUESTION.search(text) or re.search(r"[\u4e00-\u9fff]", topics_mod.strip_words(text)):
        return None
    if _EN_LIST.match(text):
        return {"action": "list"}
    stop = _EN_STOP.match(text)
    # "stop" or "cancel" alone (a case form's way out) is not about notices: it must name them.
    if stop and (text.lower().lstrip().startswith(("unsubscribe", "please unsubscribe"))
                 or re.search(r"(?i)\b(?:notices?|notifications?|alerts?|subscriptions?)\b", stop.group(1))):
        rest = stop.group(1)
        if _EN_FILLER.sub("", topics_mod.strip_words(rest)):
            return None  # "stop the car alarm": something else
        return {"action": "stop", "topics": ",".join(topics_mod.find_topics(rest))}
    sub = _EN_SUBSCRIBE.match(text)
    if sub:
        rest = sub.group(1)
        if _EN_FILLER.sub("", topics_mod.strip_words(rest)):
            return None
        return {"action": "subscribe", "topics": ",".join(topics_mod.find_topics(rest)),
                "districts": ",".join(topics_mod.find_districts(rest))}
    return None


async def intercept(msg: Incoming) -> list[Outgoing] | None:
    if msg.channel not in CHANNELS:
        return None
    command = _parse(msg)
    if command is None:
        return None
    return await asyncio.to_thread(_act, msg.channel, msg.sender, command, msg.lang)


def _l(lang: str, zh: str, en: str) -> str:
    return en if lang == "en" else zh


def _custom(
    action: str,
    subs: list[Sub],
    topics: list[str] | None = None,
    districts: list[str] | None = None,
    expires: str | None = None,
) -> dict:
    return {
        "type": "subscription",
        "action": action,
        "topics": topics if topics is not None else list(dict.fromkeys(s.topic for s in subs)),
        "districts": districts
        if districts is not None
        else topics_mod.clean_districts([d for s in subs for d in s.districts]),
        "expires": expires if expires is not None else _earliest(subs),
        "subscriptions": [s.as_json() for s in subs],
    }


def _earliest(subs: list[Sub]) -> str | None:
    return min(s.as_json()["expires"] for s in subs) if subs else None


def _where(districts: list[str], lang: str = "zh") -> str:
    if lang == "en":
        return ", ".join(districts) if districts else topics_mod.WHOLE_CITY_EN
    return "、".join(districts) if districts else topics_mod.WHOLE_CITY


def _date(sub: Sub, lang: str = "zh") -> str:
    if lang == "en":
        return sub.expires_at.strftime("%d %B %Y").lstrip("0")
    return f"{sub.expires_at.year} 年 {sub.expires_at.month} 月 {sub.expires_at.day} 日"


def _names(topics: list[str], lang: str) -> str:
    return _l(lang, "、", ", ").join(topics_mod.label(t, lang) for t in topics)


def _ints(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() else None


def _list_of(value: str | None) -> list[str]:
    return [p for p in (value or "").split(",") if p]


def _act(channel: str, sender: str, command: dict[str, str], lang: str = "zh") -> list[Outgoing]:
    action = command.get("action", "")
    topics = [t for t in _list_of(command.get("topics") or command.get("topic")) if t in topics_mod.TOPICS]
    try:
        districts = topics_mod.clean_districts(_list_of(command.get("districts") or command.get("district")))
    except ValueError:
        districts = []
    if action == "subscribe":
        return _subscribe(channel, sender, topics, districts, lang)
    if action == "renew":
        return _renew(channel, sender, _ints(command.get("id")), lang)
    if action == "stop":
        return _stop(channel, sender, _ints(command.get("id")), topics, command.get("all") == "1", lang)
    return _listed(channel, sender, lang)


def _menu(districts: list[str], lang: str = "zh") -> list[Outgoing]:
    # District names unescaped: a LINE postback's data holds 300 characters, and percent-escaped
    # names (27 characters each) would run over with ten of them.
    where = f"&districts={','.join(districts)}" if districts else ""
    buttons = [Button(topics_mod.label(t.id, lang), f"{PREFIX}action=subscribe&topics={t.id}{where}")
               for t in topics_mod.TOPICS.values()]
    text = _l(lang, f"想收到哪一類通知（{_where(districts)}）？請選一項。也可以直接說「我要訂閱停水通知 三民區」。",
              f"Which notices would you like ({_where(districts, lang)})? Pick one, or just say "
              "\"subscribe to water outage notices 三民區\".")
    return [
        Outgoing(text=text, buttons=buttons, custom=_custom("choose", [], list(topics_mod.TOPICS), districts, None))
    ]


def _subscribe(channel: str, sender: str, topics: list[str], districts: list[str],
               lang: str = "zh") -> list[Outgoing]:
    if not topics:
        return _menu(districts, lang)
    subs = subscriptions.subscribe(channel, sender, topics, districts)
    if lang == "en":
        lines = [
            "Subscribed: " + "; ".join(f"{topics_mod.label(s.topic, lang)} ({_where(s.districts, lang)})"
                                       for s in subs) + ".",
            f"Until {_date(subs[0], lang)}; a week before it ends I will ask whether to go on. Ordinary notices "
            "between 10 pm and 7 am wait until the morning.",
            "Say \"my subscriptions\" to see them, \"unsubscribe\" to stop.",
        ]
    else:
        lines = [
            f"已訂閱：{'、'.join(f'{topics_mod.label(s.topic)}（{_where(s.districts)}）' for s in subs)}。",
            f"到 {_date(subs[0])}為止，到期前一週會問您要不要繼續。晚上 10 點到早上 7 點的一般通知會留到早上再送。",
            "說「我的訂閱」可查看，「取消訂閱」可停止。",
        ]
    return [
        Outgoing(
            text="\n".join(lines),
            buttons=[Button(_l(lang, "我的訂閱", "My subscriptions"), PREFIX + "action=list")],
            custom=_custom("subscribed", subs),
        )
    ]


def _renew(channel: str, sender: str, sub_id: int | None, lang: str = "zh") -> list[Outgoing]:
    sub = subscriptions.renew(channel, sender, sub_id) if sub_id is not None else None
    if sub is None:
        return [
            Outgoing(
                text=_l(lang, "這個訂閱已經停止了。要重新訂閱，請說例如「我要訂閱停水通知 三民區」。",
                        "That subscription has already stopped. To subscribe again, say for example "
                        "\"subscribe to water outage notices 三民區\"."),
                custom=_custom("listed", subscriptions.mine(channel, sender)),
            )
        ]
    label, where = topics_mod.label(sub.topic, lang), _where(sub.districts, lang)
    text = _l(lang, f"好的，「{label}」通知（{where}）會繼續送到 {_date(sub)}。",
              f"OK, {label} notices ({where}) go on until {_date(sub, lang)}.")
    return [Outgoing(text=text, custom=_custom("renewed", [sub]))]


def _stop_buttons(subs: list[Sub], lang: str = "zh") -> list[Button]:
    buttons = [Button(_l(lang, f"停止{topics_mod.label(s.topic)}", f"Stop {topics_mod.label(s.topic, lang)}"),
                      PREFIX + f"action=stop&id={s.id}") for s in subs]
    every = [Button(_l(lang, "全部停止", "Stop all"), PREFIX + "action=stop&all=1")] if len(subs) > 1 else []
    return buttons[:12] + every


def _stop(channel: str, sender: str, sub_id: int | None, topics: list[str], everything: bool,
          lang: str = "zh") -> list[Outgoing]:
    active = subscriptions.mine(channel, sender)
    if not active:
        return _listed(channel, sender, lang)
    if sub_id is None and not topics and not everything and len(active) > 1:
        return [
            Outgoing(
                text=_l(lang, "您有這些訂閱，要停止哪一個？", "These are your subscriptions: which one should stop?"),
                buttons=_stop_buttons(active, lang), custom=_custom("listed", active)
            )
        ]
    stopped = subscriptions.stop(channel, sender, sub_id=sub_id, topics=topics or None)
    if not stopped:
        return _listed(channel, sender, lang)
    left = subscriptions.mine(channel, sender)
    gone = _names([s.topic for s in stopped], lang)
    text = _l(lang, f"已停止：{gone}通知，不會再傳給您。", f"Stopped: {gone} notices. You will not get them any more.")
    if left:
        still = _names([s.topic for s in left], lang)
        text += _l(lang, f"\n還在訂閱：{still}。", f"\nStill subscribed: {still}.")
    return [Outgoing(text=text, custom=_custom("unsubscribed", stopped))]


def _listed(channel: str, sender: str, lang: str = "zh") -> list[Outgoing]:
    subs = subscriptions.mine(channel, sender)
    if not subs:
        return [
            Outgoing(
                text=_l(lang, "目前沒有訂閱任何通知。想收到停水、停電、颱風停班停課、空氣品質或道路施工的通知，"
                        "可以說例如「我要訂閱停水通知 三民區」。",
                        "You have no subscriptions. For notices of water or power outages, typhoon days off, "
                        "air quality or road works, say for example \"subscribe to water outage notices 三民區\"."),
                buttons=[Button(_l(lang, "訂閱通知", "Subscribe"), PREFIX + "action=subscribe")],
                custom=_custom("listed", []),
            )
        ]
    if lang == "en":
        lines = ["Your subscriptions:"] + [
            f"• {topics_mod.label(s.topic, lang)} ({_where(s.districts, lang)}), until {_date(s, lang)}" for s in subs]
    else:
        lines = ["您的訂閱："] + [f"・{topics_mod.label(s.topic)}（{_where(s.districts)}），到 {_date(s)}"
                                  for s in subs]
    return [Outgoing(text="\n".join(lines), buttons=_stop_buttons(subs, lang), custom=_custom("listed", subs))]
