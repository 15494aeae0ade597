"""rasa-sdk actions: thin wrappers that call bot.* services."""

import multiprocessing
import os

# Set by the supervisor for the real server. Sanic imports this package in its manager
# process and again in the worker it spawns; only the worker answers, so only it preloads.
if os.environ.get("BOT_ACTIONS_PRELOAD") == "1":
    if multiprocessing.current_process().name != "MainProcess":
        from actions import youth as _youth

        _youth.preload()
    else:  # a (re)started server: what an earlier worker said about its warmth is stale
        from bot import health as _health

        _health.set_actions_warmth(None)
