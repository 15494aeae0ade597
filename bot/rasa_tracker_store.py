"""Rasa's SQL tracker store, lighter and with a bounded conversation: the custom tracker store that
var/endpoints.yml names (`type: bot.rasa_tracker_store.TrackerStore`, bot/rasa_endpoints.py),
loaded by Rasa through its own extension point for tracker stores. Runs inside Rasa's environment.

What it changes against Rasa's `SQLTrackerStore` (same table, same rows; `BOT_RASA_SPEEDUPS=0`
names Rasa's own store instead):

- SQLite: one pooled connection in WAL mode (Rasa's store opens a new connection and syncs the
  journal for every operation).
- Writes: a tracker remembers how many of its events are stored (set at load and after each
  save), so a save inserts the new events as one multi-row insert, without Rasa's count query
  first and without an ORM object per event; a load reads only the `data` column.
- A bounded conversation (issue #22 item 8): everything Rasa does per message (rebuild the
  tracker, replay its events, the policies' states, the tracker sent to the action server) grows
  with the events of the current session, and a LINE citizen keeps one sender id for life. Once a
  session holds more than BOT_TRACKER_MAX_EVENTS events and the citizen is between turns (no
  form active, the bot listening), the save appends a new session start carrying every slot that
  is set, the way Rasa's own `action_session_start` carries slots over. Rasa loads events from the
  latest session start, so what it loads is bounded; the older events stay in the table
  (`retrieve_full_tracker` and the retention job see them all).
"""

from __future__ import annotations

import itertools
import json
import logging
import sqlite3
import time
from typing import Any

from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.events import ActionExecuted, Event, SessionStarted, SlotSet
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.nlu.constants import INTENT_NAME_KEY
from sqlalchemy import create_engine, event, pool
from sqlalchemy.orm import sessionmaker

from bot.config import settings

log = logging.getLogger(__name__)
STORED = "_bianmin_stored"  # attribute: how many of this tracker object's events are in the table
DEFAULT_MAX_EVENTS = 120
# Rasa internals this subclass relies on besides the public methods it overrides; checked at
# start so that another Rasa release fails here, loudly, not in a conversation.
_NEEDED = ("_event_query", "session_scope", "stream_events", "_additional_events", "SQLEvent")


def max_events() -> int:
    return settings().tracker_max_events


class TrackerStore(SQLTrackerStore):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        missing = [name for name in _NEEDED if not hasattr(SQLTrackerStore, name)]
        if missing:
            raise SystemExit(f"bot.rasa_tracker_store: this Rasa's SQLTrackerStore lacks {missing}; "
                             "set BOT_RASA_SPEEDUPS=0 to use Rasa's own store")
        super().__init__(*args, **kwargs)
        self.max_events = max_events()
        if self.engine.dialect.name == "sqlite":
            # SQLAlchemy 1.4 opens and closes a SQLite connection per session: keep a pool of one
            # (only Rasa's loop thread uses it) in WAL mode. NORMAL syncs at checkpoints: a power
            # cut may lose the last turns of a conversation, never a case (cases live in bot.db).
            url = self.engine.url
            self.engine.dispose()
            self.engine = create_engine(url, poolclass=pool.QueuePool, pool_size=1, max_overflow=4,
                                        connect_args={"check_same_thread": False})
            event.listen(self.engine, "connect", _wal)
            self.sessionmaker = sessionmaker(bind=self.engine)

    async def _retrieve(self, sender_id: str, fetch_events_from_all_sessions: bool) -> DialogueStateTracker | None:
        with self.session_scope() as session:
            rows = (self._event_query(session, sender_id, fetch_events_from_all_sessions=fetch_events_from_all_sessions)
                    .with_entities(self.SQLEvent.data).all())
            if not (self.domain and rows):
                return None
            tracker = DialogueStateTracker.from_dict(sender_id, [json.loads(data) for (data,) in rows],
                                                     self.domain.slots)
            setattr(tracker, STORED, len(tracker.events))
            return tracker

    async def save(self, tracker: DialogueStateTracker) -> None:
        await self.stream_events(tracker)
        with self.session_scope() as session:
            known = getattr(tracker, STORED, None)
            new = (itertools.islice(tracker.events, known, len(tracker.events))
                   if known is not None and known <= len(tracker.events)
                   else self._additional_events(session, tracker))
            rows = [self._row(tracker.sender_id, e) for e in new]
            if self._should_compact(tracker):
                rows += [self._row(tracker.sender_id, e) for e in compaction_events(tracker)]
                log.debug("conversation compacted at %d events", len(tracker.events))
            if rows:
                session.execute(self.SQLEvent.__table__.insert(), rows)
            session.commit()
        setattr(tracker, STORED, len(tracker.events))

    def _should_compact(self, tracker: DialogueStateTracker) -> bool:
        return (0 < self.max_events < len(tracker.events) and tracker.active_loop_name is None
                and tracker.latest_action_name == "action_listen")

    @staticmethod
    def _row(sender_id: str, evt: Event) -> dict[str, Any]:
        data = evt.as_dict()
        return {"sender_id": sender_id, "type_name": evt.type_name, "timestamp": data.get("timestamp"),
                "intent_name": data.get("parse_data", {}).get("intent", {}).get(INTENT_NAME_KEY),
                "action_name": data.get("name"), "data": json.dumps(data)}


def compaction_events(tracker: DialogueStateTracker) -> list[Event]:
    """A new session that starts where this one is: Rasa's session-start action, the session
    start, every slot that differs from its initial value, and the bot listening. Timestamps after
    every stored event (Rasa loads from the latest session start by timestamp)."""
    now = max(time.time(), (tracker.events[-1].timestamp if tracker.events else 0.0) + 1e-3)
    events: list[Event] = [ActionExecuted("action_session_start", timestamp=now),
                           SessionStarted(timestamp=now)]
    for name, slot in tracker.slots.items():
        if slot.value != slot.initial_value and name != "requested_slot":
            events.append(SlotSet(name, slot.value, timestamp=now))
    events.append(ActionExecuted("action_listen", timestamp=now))
    return events


def _wal(dbapi_connection: Any, _record: Any) -> None:
    if isinstance(dbapi_connection, sqlite3.Connection):
        dbapi_connection.execute("PRAGMA journal_mode=WAL")
        dbapi_connection.execute("PRAGMA synchronous=NORMAL")
