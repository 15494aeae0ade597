"""rasa-sdk actions: thin wrappers that call bot.* services."""

import os

if os.environ.get("BOT_ACTIONS_PRELOAD") == "1":  # set by the supervisor for the real server
    from actions import youth as _youth

    _youth.preload()
