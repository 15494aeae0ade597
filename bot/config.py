"""Settings: every environment variable the service reads, read in one place (issue #22 item 4).

Defaults are the embedded set-up: SQLite files under var/, an in-memory lock store, no external
services. Secrets come from the environment only.

One settings object per process, read once (`settings()`, cached) and passed or looked up where
needed; no other module of bot/ or actions/ reads os.environ (tests/test_settings.py checks).
What a process gets depends on its environment:

- the gateway, the action server, the CLI and the tests (.venv, pydantic 2): `Settings` in
  bot/config_gateway.py, a pydantic-settings `BaseSettings` naming every variable;
- Rasa and its child processes (.venv-rasa, Python 3.10: Rasa 3.6 pins pydantic 1, where
  pydantic-settings does not exist): `Settings` in bot/config_rasa.py, pydantic 1's
  `BaseSettings` with the few variables our modules inside Rasa read (the internal secret, the
  speed-up kill switch, the tracker bound, paths, the secrets the log scrubber withholds), under
  the same field names, variable names and defaults (tests/test_settings.py compares them).

Both are chosen here by what is installed, so a module that runs in both environments (bot.internal,
bot.logscrub, bot.privacy, bot.catalogue, bot.nlu.training_data) asks `bot.config.settings()` in
either. A bad value stops the process with a message naming the variable (SystemExit).

Tests that change the environment clear the cache (`settings.cache_clear()`, tests/conftest.py
does it after monkeypatch.setenv/delenv)."""

from __future__ import annotations

import importlib.util
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

ROOT = Path(__file__).resolve().parent.parent

if TYPE_CHECKING or importlib.util.find_spec("pydantic_settings") is not None:
    from bot.config_gateway import Settings, default_replicas
else:  # Rasa's environment (.venv-rasa): pydantic 1
    from bot.config_rasa import Settings  # type: ignore[assignment]


def replica_name(index: int) -> str:
    """rasa, rasa2, ...: a Rasa replica's name in `bot run`'s output and in /healthz."""
    return "rasa" if index == 0 else f"rasa{index + 1}"


@lru_cache(maxsize=1)
def settings() -> Settings:
    """This process's settings, read from the environment on the first call."""
    return Settings.load()


__all__ = ["ROOT", "Settings", "default_replicas", "replica_name", "settings"]
