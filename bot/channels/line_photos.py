"""Several photos sent at once get one answer (issue #19 item 6).

When a citizen picks three photos and sends them together, LINE sends three image events (most
often in one webhook call), each with `imageSet` {id, index 1..total, total}. Every photo goes
to the conversation (the case form keeps them all), but answering each one would send three
full summaries. bot.channels.line holds the answer while the next event of this citizen is a
photo of the same set, and sends the answer after the last one, once. This module keeps what is
held per citizen: the latest answer, which photos of the set came, and how many could not be
fetched (said in the one answer, so the citizen can send those again).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.messages import Outgoing

MISSED = "另有 {n} 張照片沒有收到（下載失敗或格式不符，支援 JPEG/PNG，10 MB 以內），請再傳一次。"
MISSED_EN = "{n} more photo(s) did not arrive (download failed or not JPEG/PNG up to 10 MB); please send them again."


@dataclass
class Burst:
    """One set of photos of one citizen, while its answer is held."""

    set_id: str
    total: int
    seen: set[int] = field(default_factory=set)
    failed: int = 0
    answer: list[Outgoing] | None = None  # the conversation's answer to the latest photo that arrived

    @property
    def complete(self) -> bool:
        return len(self.seen) >= self.total

    def reply(self, failed_text: str, lang: str = "zh") -> list[Outgoing] | None:
        """The one answer: the latest answer, after a line on the photos that did not arrive;
        `failed_text` alone when none did; None when nothing is due (a person holds the chat)."""
        if self.answer is None:
            return [Outgoing(text=failed_text)] if self.failed else None
        if not self.failed:
            return self.answer
        note = (MISSED_EN if lang == "en" else MISSED).format(n=self.failed)
        return [Outgoing(text=note), *self.answer]


class PhotoBursts:
    """The held answers, one set per citizen (a citizen's events are handled one at a time)."""

    def __init__(self) -> None:
        self._held: dict[str, Burst] = {}

    def add(
        self, sender: str, set_id: str, index: int, total: int, answer: list[Outgoing] | None, failed: bool
    ) -> Burst:
        """Record one photo of a set and the answer it got (`failed`: it could not be fetched)."""
        burst = self._held.get(sender)
        if burst is None or burst.set_id != set_id:
            # A set left held by an event that never finished is replaced: its photos are kept
            # by the conversation already; the newer answer says where the case stands.
            burst = self._held[sender] = Burst(set_id, max(int(total or 1), 1))
        burst.seen.add(int(index or 0))
        if failed:
            burst.failed += 1
        elif answer is not None:  # None: nothing due for that photo (rate limit, a person holds the chat)
            burst.answer = answer
        return burst

    def take(self, sender: str) -> Burst | None:
        return self._held.pop(sender, None)

    def __len__(self) -> int:
        return len(self._held)
