"""The settings of Rasa and its child processes (.venv-rasa: Rasa 3.6 pins pydantic 1, where
pydantic-settings does not exist): pydantic 1's `BaseSettings` with only what our modules inside
Rasa read. Use it through `bot.config.settings()`, which picks this class in Rasa's environment
(bot/config.py says why there are two).

Every field here is a field of bot/config_gateway.py's `Settings` with the same name, the same
environment variable and the same default (tests/test_settings.py compares them); the rules for
empty values and switches are the same. Importable in the gateway's environment too (pydantic 2's
`pydantic.v1`), so the tests can compare the two classes without Rasa."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Optional

try:
    from pydantic.v1 import BaseSettings, Field, ValidationError, root_validator, validator
except ImportError:  # pydantic 1 (Rasa's environment)
    from pydantic import BaseSettings, Field, ValidationError, root_validator, validator  # type: ignore[no-redef]

ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    class Config:
        allow_mutation = False
        case_sensitive = False
        extra = "ignore"

    var_dir: Path = Field(ROOT / "var", env="BOT_VAR_DIR")
    kb_dir: Path = Field(ROOT / "knowledge_base", env="BOT_KB_DIR")
    curated_dir: Optional[Path] = Field(None, env="BOT_CURATED_DIR")  # noqa: UP045 (Python 3.10, pydantic 1)
    # The internal secret (bot.internal): Rasa's chat channel checks it, its API asks for it.
    rasa_api_token: str = Field("", env="BOT_RASA_API_TOKEN")
    rasa_speedups: bool = Field(True, env="BOT_RASA_SPEEDUPS")  # bot.rasa_process; "0" = off
    tracker_max_events: int = Field(120, env="BOT_TRACKER_MAX_EVENTS")  # bot.rasa_tracker_store
    route_batch: int = Field(64, env="BOT_ROUTE_BATCH")  # bot.nlu.rasa_worker
    # Secrets the log scrubber withholds (bot.logscrub) and the pseudonym key (bot.privacy).
    pseudonym_key: str = Field("", env="BOT_PSEUDONYM_KEY")
    line_channel_secret: str = Field("", env="LINE_CHANNEL_SECRET")
    line_channel_token: str = Field("", env="LINE_CHANNEL_ACCESS_TOKEN")
    staff_api_token: str = Field("", env="BOT_STAFF_API_TOKEN")
    open311_api_keys: str = Field("", env="BOT_OPEN311_API_KEYS")
    admin_password: str = Field("", env="BOT_ADMIN_PASSWORD")
    user_password: str = Field("", env="BOT_USER_PASSWORD")

    @validator("*", pre=True)
    def _blank_and_switches(cls, value: Any, field: Any) -> Any:  # noqa: N805 (pydantic 1 validator)
        if isinstance(value, str):
            if field.name == "rasa_speedups":
                return value.strip() != "0"
            if field.name == "staff_api_token":
                return value.strip()
            if value == "" and not isinstance(field.default, str):
                return field.default
        return value

    @root_validator(skip_on_failure=True)
    def _derived(cls, values: dict[str, Any]) -> dict[str, Any]:  # noqa: N805 (pydantic 1 validator)
        values["var_dir"] = Path(values["var_dir"]).resolve()
        values["curated_dir"] = values.get("curated_dir") or values["var_dir"] / "curated"
        return values

    @classmethod
    def load(cls) -> Settings:
        """Read the environment; a value that does not parse stops with a message naming it."""
        try:
            return cls()
        except ValidationError as exc:
            lines = []
            for error in exc.errors():
                name = cls.variable(str(error["loc"][0]))
                kind = "an integer" if "integer" in error["type"] else "valid"
                lines.append(f"{name} must be {kind}, got {os.environ.get(name)!r}")
            raise SystemExit("\n".join(lines)) from None

    @classmethod
    def variable(cls, field: str) -> str:
        """The environment variable of a field."""
        return str(cls.__fields__[field].field_info.extra["env"])
