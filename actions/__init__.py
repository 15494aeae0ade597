"""rasa-sdk actions: thin wrappers that call bot.* services."""

import multiprocessing
import os

# Set by the supervisor for the real server. Sanic imports this package in its manager
# process and again in the worker it spawns; only the worker answers, so only it preloads.
if os.environ.get("BOT_ACTIONS_PRELOAD") == "1" and multiprocessing.current_process().name != "MainProcess":
    from actions import youth as _youth

    _youth.preload()
