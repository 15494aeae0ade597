"""The settings of the gateway, the action server, the CLI and the tests (.venv): a pydantic-settings
`BaseSettings` naming every environment variable the service reads. Use it through
`bot.config.settings()` (read once per process, cached); why there is a second, smaller class for
Rasa's environment is in bot/config.py.

Field names are what the code uses; each field's `validation_alias` is its environment variable
(BOT_*, LINE_*, PORT, OMP_NUM_THREADS). Rules shared by every field: an empty variable is the
default for numbers, paths and switches (an empty string is a value for text); switches are on
for 1/true/yes; a value that does not parse stops the process with a message naming the variable."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

from pydantic import Field, ValidationError, ValidationInfo, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

ROOT = Path(__file__).resolve().parent.parent
ON = ("1", "true", "yes")


def default_replicas() -> int:
    """Two Rasa processes where there are two cores, else one. One Rasa is held by its Python
    work under one GIL (~37 msgs/s at best on this 2-core machine); two answered 45 msgs/s at 8
    users with p95 246 ms against 36 and 272 ms (benchmarks/README.md, "Fourth round"), for
    ~700 MB more memory. More than two is for machines with more cores (not measured): ask for
    it with BOT_RASA_REPLICAS."""
    return min(2, os.cpu_count() or 1)


def env(name: str, default: Any = None, **kwargs: Any) -> Any:
    """A field read from the environment variable `name`."""
    return Field(default, validation_alias=name, **kwargs)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(frozen=True, extra="ignore", case_sensitive=False, env_prefix="")

    # Switches: on for 1/true/yes (any case), off otherwise; BOT_RASA_SPEEDUPS is on unless "0".
    SWITCHES: ClassVar[tuple[str, ...]] = ("open311_publish_chat", "api_docs", "staff_secure_cookie",
                                           "train_lock_held", "actions_preload")
    # Text settings read with surrounding blanks removed.
    STRIPPED: ClassVar[tuple[str, ...]] = ("line_add_friend_url", "notice_quiet_hours", "staff_api_token",
                                           "actions_remote_url", "handoff_hours", "handoff_tz")

    # --- Where things are ---
    var_dir: Path = env("BOT_VAR_DIR", ROOT / "var")
    kb_dir: Path = env("BOT_KB_DIR", ROOT / "knowledge_base")
    # Trained Rasa models and the emergency model (bot.training, bot.nlu.emergency_model).
    models_dir: Path = env("BOT_MODELS_DIR", ROOT / "models")
    # The act classifier's model (bot.nlu.act): a separate setting so tests can train one apart.
    act_models_dir: Path = env("BOT_ACT_MODELS_DIR", ROOT / "models")
    # Curators' examples (bot.nlu.training_data.curated_dir): default var_dir/curated.
    curated_dir: Path | None = env("BOT_CURATED_DIR")

    # --- Ports and hosts ---
    port: int = env("PORT", 8000)
    host: str = env("BOT_HOST", "127.0.0.1")  # the gateway's listening address (`bot run`)
    rasa_port: int = env("BOT_RASA_PORT", 5005)
    rasa_host: str = env("BOT_RASA_HOST", "127.0.0.1")
    actions_port: int = env("BOT_ACTIONS_PORT", 5055)
    actions_host: str = env("BOT_ACTIONS_HOST", "127.0.0.1")
    # BOT_ACTIONS_URL: the action server on another host (deploy/: one container per part).
    actions_remote_url: str = env("BOT_ACTIONS_URL", "")
    # Rasa replicas the gateway spreads messages over (least busy, fail-over: bot.conversation); empty = one
    # Rasa on rasa_port. rasa_ports: the replicas `python -m bot run` starts itself (BOT_RASA_PORTS, else
    # BOT_RASA_REPLICAS consecutive ports from rasa_port).
    rasa_urls: Annotated[tuple[str, ...], NoDecode] = env("BOT_RASA_URLS", ())
    rasa_ports: Annotated[tuple[int, ...], NoDecode] = env("BOT_RASA_PORTS", ())
    rasa_replica_count: int | None = env("BOT_RASA_REPLICAS")
    # OpenMP threads per Rasa replica (`bot run`); default: the cores shared out among them.
    omp_num_threads: str = env("OMP_NUM_THREADS", "")
    # Youth search's encoder (bot/youth/encoder.py): auto (the int8 ONNX file, else the fp32 folder
    # on torch), onnx or torch; and its threads (one: on a shared 2-core machine a second thread
    # spin-waits more than it helps).
    youth_encoder: Literal["auto", "onnx", "torch"] = env("BOT_YOUTH_ENCODER", "auto")
    youth_threads: int = env("BOT_YOUTH_THREADS", 1)

    # --- Storage and services ---
    # Our own tables (cases, message log ...): SQLAlchemy URL; default var_dir/bot.db.
    database_url: str = env("BOT_DATABASE_URL", "")
    # Rasa's SQL tracker store: SQLAlchemy URL (a separate SQLite file by default, the same
    # PostgreSQL database as ours in production).
    tracker_url: str = env("BOT_TRACKER_URL", "")
    redis_url: str = env("BOT_REDIS_URL", "")
    rabbitmq_url: str = env("BOT_RABBITMQ_URL", "")
    rabbitmq_queue: str = env("BOT_RABBITMQ_QUEUE", "bianmin_events")

    # --- Rasa ---
    rasa_timeout: float = env("BOT_RASA_TIMEOUT", 10.0)
    # A kept message's lease: two Rasa timeouts plus this margin for its delivery (bot.pending);
    # a dead gateway's messages are taken over once it has run out. Tests shorten it.
    kept_lease_margin: float = env("BOT_KEPT_LEASE_MARGIN", 20.0, ge=0)
    # Survive (bot.pending): the citizen hears back within rasa_deadline seconds even when
    # Rasa is slow or down; kept messages go to a person after pending_handoff_after seconds.
    rasa_deadline: float = env("BOT_RASA_DEADLINE", 2.0)
    pending_handoff_after: float = env("BOT_PENDING_HANDOFF_AFTER", 600.0)
    # The kill switch of our changes to Rasa (bot.rasa_process, bot.rasa_tracker_store): "0" = off.
    rasa_speedups: bool = env("BOT_RASA_SPEEDUPS", True)
    # Events of one session before the tracker store starts a new one (bot.rasa_tracker_store).
    tracker_max_events: int = env("BOT_TRACKER_MAX_EVENTS", 120)
    # Texts per batch in `bot route`'s Rasa worker (bot.nlu.rasa_worker).
    route_batch: int = env("BOT_ROUTE_BATCH", 64)
    # Below this top intent confidence the router asks which service was meant (bot.nlu.router).
    clarify_threshold: float = env("BOT_CLARIFY_THRESHOLD", 0.85)

    # --- Secrets ---
    # The internal secret every loopback call carries (bot.internal); `bot run` makes one per start.
    rasa_api_token: str = env("BOT_RASA_API_TOKEN", "")
    # Keyed hash for citizen pseudonyms; set it in production so ids survive restarts
    # without being reversible. The fallback is per-machine, stored under var/.
    pseudonym_key: str = env("BOT_PSEUDONYM_KEY", "")
    line_channel_secret: str = env("LINE_CHANNEL_SECRET", "")
    line_channel_token: str = env("LINE_CHANNEL_ACCESS_TOKEN", "")
    # The staff API's bearer tokens: "token" or "name:token,name:token" (bot.cases.api).
    staff_api_token: str = env("BOT_STAFF_API_TOKEN", "")
    open311_api_keys: str = env("BOT_OPEN311_API_KEYS", "")  # comma-separated (bot.cases.open311)
    audit_key: str = env("BOT_AUDIT_KEY", "")  # the staff access log's chain key (bot.staff.audit)
    # `python -m bot staff create-admin` / `create-user` without a prompt (bot.staff.cli).
    admin_password: str = env("BOT_ADMIN_PASSWORD", "")
    user_password: str = env("BOT_USER_PASSWORD", "")

    # --- LINE ---
    line_api_host: str = env("LINE_API_HOST", "")
    # LINE_ADD_FRIEND_URL: the link a group is given to add the assistant one to one (optional).
    line_add_friend_url: str = env("LINE_ADD_FRIEND_URL", "")

    # --- Web, staff console, APIs ---
    open311_publish_chat: bool = env("BOT_OPEN311_PUBLISH_CHAT", False)  # list chat cases in Open311's GET
    # BOT_API_DOCS=1: /openapi.json and /docs (development only; the API's map is not for the public).
    api_docs: bool = env("BOT_API_DOCS", False)
    # Reverse proxies whose X-Forwarded-For is believed (comma-separated addresses: bot.ratelimit).
    trusted_proxies: str = env("BOT_TRUSTED_PROXIES", "")
    staff_secure_cookie: bool = env("BOT_STAFF_SECURE_COOKIE", False)
    map_tiles_url: str = env("BOT_MAP_TILES_URL", "")
    # Networks a photo link may point into besides the public internet (bot.cases.media_url; tests).
    media_fetch_allow: str = env("BOT_MEDIA_FETCH_ALLOW", "")
    # Rate limits, "COUNT/SECONDS" (bot.ratelimit; "" = the default there).
    rate_message: str = env("BOT_RATE_MESSAGE", "")
    rate_ip: str = env("BOT_RATE_IP", "")
    rate_upload: str = env("BOT_RATE_UPLOAD", "")
    rate_api: str = env("BOT_RATE_API", "")
    rate_health: str = env("BOT_RATE_HEALTH", "")
    rate_case_pin: str = env("BOT_RATE_CASE_PIN", "")

    # --- Hand-over, notices, retention ---
    # Staffed hours (bot.handoff.hours; "" = its default) and their time zone.
    handoff_hours: str = env("BOT_HANDOFF_HOURS", "")
    handoff_tz: str = env("BOT_HANDOFF_TZ", "Asia/Taipei")
    # Notices citizens choose (bot.notices): quiet hours (Asia/Taipei, "" = none) that hold
    # non-urgent notices until their end; a subscription's term in months; the renewal prompt
    # this many days before it lapses.
    notice_quiet_hours: str = env("BOT_NOTICE_QUIET_HOURS", "22:00-07:00")
    # Seconds before the first retry of a failed push, doubled per attempt up to ten minutes
    # (bot.notify.delivery; tests shorten it).
    delivery_backoff_first: float = env("BOT_DELIVERY_BACKOFF_FIRST", 1.0, gt=0)
    notice_months: int = env("BOT_NOTICE_MONTHS", 6)
    notice_renew_days: int = env("BOT_NOTICE_RENEW_DAYS", 7)
    # Days cases and chat transcripts are kept (bot.cases.retention; 0 = off).
    retention_days: int = env("BOT_RETENTION_DAYS", 365)
    retention_chat_days: int = env("BOT_RETENTION_CHAT_DAYS", 90)

    # --- Retraining and the action server ---
    train_lock: str = env("BOT_TRAIN_LOCK", "")  # the training lock file; default var_dir/train.lock
    # Set by a parent that already holds the training lock, for its child (bot.staff.retrain).
    train_lock_held: bool = env("BOT_TRAIN_LOCK_HELD", False)
    # "repo": the retrain gate skips the repository's held-out files (tests).
    retrain_holdout: str = env("BOT_RETRAIN_HOLDOUT", "")
    # Train Rasa on at most this many examples per service (curators' examples always kept;
    # 0 = all): a test that trains takes a small slice, about 30 s instead of minutes.
    train_slice: int = env("BOT_TRAIN_SLICE", 0, ge=0)
    # Set by `bot run` for the action server: load the models before the first request (actions/).
    actions_preload: bool = env("BOT_ACTIONS_PRELOAD", False)

    def __init__(self, **values: Any) -> None:
        """Field values given by name win over the environment (`Settings(**{**vars(s), "port": 1})`,
        tests). By name, not by `validate_by_name`: that would also read a variable named after
        the field (HOST, VAR_DIR ...)."""
        fields = type(self).model_fields
        super().__init__(**{str(fields[k].validation_alias) if k in fields else k: v for k, v in values.items()})

    @field_validator("*", mode="before")
    @classmethod
    def _blank_and_switches(cls, value: Any, info: ValidationInfo) -> Any:
        name = info.field_name
        if isinstance(value, str):
            if name == "rasa_speedups":
                return value.strip() != "0"
            if name in cls.SWITCHES:
                return value.strip().lower() in ON
            if name in cls.STRIPPED:
                return value.strip()
            if value == "" and not isinstance(cls.model_fields[name].default, str):
                return cls.model_fields[name].default
        return value

    @field_validator("rasa_urls", mode="before")
    @classmethod
    def _urls(cls, value: Any) -> Any:
        if isinstance(value, str):
            return tuple(u.strip().rstrip("/") for u in value.split(",") if u.strip())
        return value

    @field_validator("rasa_ports", mode="before")
    @classmethod
    def _ports(cls, value: Any) -> Any:
        if isinstance(value, str):
            try:
                return tuple(int(p) for p in value.split(",") if p.strip())
            except ValueError as exc:
                raise ValueError(f"must be comma-separated port numbers, got {value!r}") from exc
        return value

    @field_validator("rasa_replica_count")
    @classmethod
    def _replicas(cls, value: int | None) -> int | None:
        if value is not None and not 1 <= value <= 8:
            raise ValueError(f"must be 1 to 8, got {value}")
        return value

    @field_validator("retention_days", "retention_chat_days", mode="before")
    @classmethod
    def _days(cls, value: Any, info: ValidationInfo) -> Any:
        if isinstance(value, str) and not value.strip():
            return cls.model_fields[info.field_name].default
        if isinstance(value, str):
            try:
                value = int(value)
            except ValueError as exc:
                raise ValueError(f"must be a whole number of days, got {value!r}") from exc
        if isinstance(value, int) and value < 0:
            raise ValueError("must be 0 (off) or more")
        return value

    @model_validator(mode="after")
    def _derived(self) -> Settings:
        # Defaults that depend on other settings (the model is frozen: set once, here).
        fill = self.__dict__
        fill["var_dir"] = Path(self.var_dir).resolve()
        fill["database_url"] = self.database_url or f"sqlite:///{self.var_dir / 'bot.db'}"
        fill["tracker_url"] = self.tracker_url or (
            f"sqlite:///{self.var_dir / 'tracker.db'}" if self.database_url.startswith("sqlite") else self.database_url)
        if not self.rasa_ports:
            n = self.rasa_replica_count or default_replicas()
            fill["rasa_ports"] = tuple(self.rasa_port + i for i in range(n))
        fill["curated_dir"] = self.curated_dir or self.var_dir / "curated"
        return self

    @classmethod
    def load(cls) -> Settings:
        """Read the environment; a value that does not parse stops with a message naming it."""
        try:
            return cls()
        except ValidationError as exc:
            raise SystemExit(_message(cls, exc)) from None

    @classmethod
    def variable(cls, field: str) -> str:
        """The environment variable of a field."""
        return str(cls.model_fields[field].validation_alias)

    @property
    def rasa_url(self) -> str:
        return self.rasa_replicas[0]

    @property
    def rasa_replicas(self) -> tuple[str, ...]:
        if self.rasa_urls:
            return self.rasa_urls
        return tuple(f"http://127.0.0.1:{p}" for p in self.rasa_ports)

    @property
    def actions_url(self) -> str:
        return self.actions_remote_url.rstrip("/") or f"http://127.0.0.1:{self.actions_port}"

    @property
    def embedded(self) -> bool:
        return self.database_url.startswith("sqlite")


_KINDS = {"int_parsing": "an integer", "int_from_float": "an integer", "float_parsing": "a number"}


def _message(cls: type[Settings], exc: ValidationError) -> str:
    """One line per bad variable, e.g. `PORT must be an integer, got 'eighty'`."""
    by_alias = {str(f.validation_alias).lower(): str(f.validation_alias) for f in cls.model_fields.values()}
    lines = []
    for error in exc.errors():
        where = str(error["loc"][0]) if error["loc"] else ""
        name = by_alias.get(where.lower()) or (cls.variable(where) if where in cls.model_fields else where)
        if error["type"] in _KINDS:
            lines.append(f"{name} must be {_KINDS[error['type']]}, got {error['input']!r}")
        elif error["type"] == "value_error":
            lines.append(f"{name} {error['ctx']['error']}")
        else:
            lines.append(f"{name}: {error['msg']}, got {error['input']!r}")
    return "\n".join(lines)
