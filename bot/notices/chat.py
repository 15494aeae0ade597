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


async def intercept(msg: Incoming) -> list[Outgoing] | None:
    if msg.channel not in CHANNELS:
        return None
    command = _parse(msg)
    if command is None:
        return None
    return await asyncio.to_thread(_act, msg.channel, msg.sender, command)


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


def _where(districts: list[str]) -> str:
    return "、".join(districts) if districts else topics_mod.WHOLE_CITY


def _date(sub: Sub) -> str:
    return f"{sub.expires_at.year} 年 {sub.expires_at.month} 月 {sub.expires_at.day} 日"


def _ints(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() else None


def _list_of(value: str | None) -> list[str]:
    return [p for p in (value or "").split(",") if p]


def _act(channel: str, sender: str, command: dict[str, str]) -> list[Outgoing]:
    action = command.get("action", "")
    topics = [t for t in _list_of(command.get("topics") or command.get("topic")) if t in topics_mod.TOPICS]
    try:
        districts = topics_mod.clean_districts(_list_of(command.get("districts") or command.get("district")))
    except ValueError:
        districts = []
    if action == "subscribe":
        return _subscribe(channel, sender, topics, districts)
    if action == "renew":
        return _renew(channel, sender, _ints(command.get("id")))
    if action == "stop":
        return _stop(channel, sender, _ints(command.get("id")), topics, command.get("all") == "1")
    return _listed(channel, sender)


def _menu(districts: list[str]) -> list[Outgoing]:
    # District names unescaped: a LINE postback's data holds 300 characters, and percent-escaped
    # names (27 characters each) would run over with ten of them.
    where = f"&districts={','.join(districts)}" if districts else ""
    buttons = [Button(t.label, f"{PREFIX}action=subscribe&topics={t.id}{where}") for t in topics_mod.TOPICS.values()]
    text = f"想收到哪一類通知（{_where(districts)}）？請選一項。也可以直接說「我要訂閱停水通知 三民區」。"
    return [
        Outgoing(text=text, buttons=buttons, custom=_custom("choose", [], list(topics_mod.TOPICS), districts, None))
    ]


def _subscribe(channel: str, sender: str, topics: list[str], districts: list[str]) -> list[Outgoing]:
    if not topics:
        return _menu(districts)
    subs = subscriptions.subscribe(channel, sender, topics, districts)
    lines = [
        f"已訂閱：{'、'.join(f'{topics_mod.label(s.topic)}（{_where(s.districts)}）' for s in subs)}。",
        f"到 {_date(subs[0])}為止，到期前一週會問您要不要繼續。晚上 10 點到早上 7 點的一般通知會留到早上再送。",
        "說「我的訂閱」可查看，「取消訂閱」可停止。",
    ]
    return [
        Outgoing(
            text="\n".join(lines),
            buttons=[Button("我的訂閱", PREFIX + "action=list")],
            custom=_custom("subscribed", subs),
        )
    ]


def _renew(channel: str, sender: str, sub_id: int | None) -> list[Outgoing]:
    sub = subscriptions.renew(channel, sender, sub_id) if sub_id is not None else None
    if sub is None:
        return [
            Outgoing(
                text="這個訂閱已經停止了。要重新訂閱，請說例如「我要訂閱停水通知 三民區」。",
                custom=_custom("listed", subscriptions.mine(channel, sender)),
            )
        ]
    label, where = topics_mod.label(sub.topic), _where(sub.districts)
    return [
        Outgoing(text=f"好的，「{label}」通知（{where}）會繼續送到 {_date(sub)}。", custom=_custom("renewed", [sub]))
    ]


def _stop_buttons(subs: list[Sub]) -> list[Button]:
    buttons = [Button(f"停止{topics_mod.label(s.topic)}", PREFIX + f"action=stop&id={s.id}") for s in subs]
    return buttons[:12] + ([Button("全部停止", PREFIX + "action=stop&all=1")] if len(subs) > 1 else [])


def _stop(channel: str, sender: str, sub_id: int | None, topics: list[str], everything: bool) -> list[Outgoing]:
    active = subscriptions.mine(channel, sender)
    if not active:
        return _listed(channel, sender)
    if sub_id is None and not topics and not everything and len(active) > 1:
        return [
            Outgoing(
                text="您有這些訂閱，要停止哪一個？", buttons=_stop_buttons(active), custom=_custom("listed", active)
            )
        ]
    stopped = subscriptions.stop(channel, sender, sub_id=sub_id, topics=topics or None)
    if not stopped:
        return _listed(channel, sender)
    left = subscriptions.mine(channel, sender)
    text = f"已停止：{'、'.join(topics_mod.label(s.topic) for s in stopped)}通知，不會再傳給您。"
    if left:
        text += f"\n還在訂閱：{'、'.join(topics_mod.label(s.topic) for s in left)}。"
    return [Outgoing(text=text, custom=_custom("unsubscribed", stopped))]


def _listed(channel: str, sender: str) -> list[Outgoing]:
    subs = subscriptions.mine(channel, sender)
    if not subs:
        return [
            Outgoing(
                text="目前沒有訂閱任何通知。想收到停水、停電、颱風停班停課、空氣品質或道路施工的通知，"
                "可以說例如「我要訂閱停水通知 三民區」。",
                buttons=[Button("訂閱通知", PREFIX + "action=subscribe")],
                custom=_custom("listed", []),
            )
        ]
    lines = ["您的訂閱："] + [f"・{topics_mod.label(s.topic)}（{_where(s.districts)}），到 {_date(s)}" for s in subs]
    return [Outgoing(text="\n".join(lines), buttons=_stop_buttons(subs), custom=_custom("listed", subs))]
