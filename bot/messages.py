"""The one message shape every channel speaks.

A channel (LINE, web, REST) turns its platform event into an `Incoming`, hands it to
`bot.conversation.handle`, and renders the returned `Outgoing` list in its own format.
Outgoing mirrors Rasa's REST channel output: text, buttons (quick replies), image, custom.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Location:
    latitude: float | None = None
    longitude: float | None = None
    address: str = ""
    title: str = ""


@dataclass
class Incoming:
    channel: str  # "web" | "line" | "rest"
    # Pseudonymous, channel-scoped citizen id (LINE userId hashed, web local-storage id).
    sender: str
    text: str | None = None
    # A quick-reply / button / postback payload, e.g. "/street_light_out".
    payload: str | None = None
    location: Location | None = None
    # Id of a stored upload (see bot.media), never raw bytes.
    image_id: str | None = None
    lang: str = "zh"
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass
class Button:
    title: str
    payload: str


@dataclass
class Outgoing:
    text: str | None = None
    buttons: list[Button] = field(default_factory=list)
    image: str | None = None
    # What the reply is, for clients: {"type": <one of a closed set>, ...}, each type's fields in
    # bot/protocol/reply.schema.json, explained in docs/reply_protocol.md.
    custom: dict[str, Any] | None = None

    def as_rest(self, recipient_id: str) -> dict[str, Any]:
        out: dict[str, Any] = {"recipient_id": recipient_id}
        if self.text is not None:
            out["text"] = self.text
        if self.buttons:
            out["buttons"] = [{"title": b.title, "payload": b.payload} for b in self.buttons]
        if self.image:
            out["image"] = self.image
        # Every REST reply carries custom.type; a text sent without one (a Rasa response from
        # domain.yml, a channel's own line) is a plain answer.
        out["custom"] = self.custom if self.custom is not None else {"type": "answer"}
        return out

    @classmethod
    def from_rasa(cls, data: dict[str, Any]) -> Outgoing:
        return cls(
            text=data.get("text"),
            buttons=[Button(b.get("title", ""), b.get("payload", "")) for b in data.get("buttons") or []],
            image=data.get("image"),
            custom=data.get("custom"),
        )
