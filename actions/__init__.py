"""rasa-sdk actions: thin wrappers that call bot.* services."""

import multiprocessing

from actions import guard as _guard
from bot.config import settings

# Sanic imports this package in its manager process and again in the worker it spawns (the
# worker unpickles the actions before it builds its app), so each process gets the door and the
# log scrubber before rasa-sdk builds its app: actions/guard.py.
_guard.register()

# Set by the supervisor for the real server. Only the worker answers, so only it preloads.
if settings().actions_preload:
    if multiprocessing.current_process().name != "MainProcess":
        from actions import youth as _youth

        _youth.preload()
    else:  # a (re)started server: what an earlier worker said about its warmth is stale
        from bot import health as _health

        _health.set_actions_warmth(None)
