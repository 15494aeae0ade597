"""One settings object (issue #22 item 4): every variable the documentation names is a setting,
a bad value stops with the variable's name, Rasa's smaller settings class agrees with the
gateway's, and no other module reads the environment."""

from __future__ import annotations

import ast
import re
import typing
from pathlib import Path

import pytest

from bot import config, config_gateway, config_rasa

ROOT = Path(__file__).resolve().parent.parent
# Environment variables the documentation names that are not the service's settings.
NOT_SETTINGS = {"BOT_SETUP_BROWSER"}  # scripts/setup.sh: skip chromium and the font (deploy/Dockerfile)
# Modules allowed to read the environment: the settings themselves.
SETTINGS_MODULES = {"bot/config.py", "bot/config_gateway.py", "bot/config_rasa.py"}


def gateway_variables() -> dict[str, str]:
    """Environment variable -> field of the gateway's Settings."""
    return {config_gateway.Settings.variable(name): name for name in config_gateway.Settings.model_fields}


def documented_variables() -> set[str]:
    files = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md")), *sorted((ROOT / "deploy").rglob("*"))]
    names: set[str] = set()
    for path in files:
        if path.is_file():
            names |= set(re.findall(r"\b(?:BOT|LINE)_[A-Z0-9_]*[A-Z0-9]\b", path.read_text(encoding="utf-8")))
    return names


def test_every_documented_variable_is_a_setting() -> None:
    documented = documented_variables()
    assert "BOT_DATABASE_URL" in documented and "LINE_CHANNEL_SECRET" in documented  # the scan reads the docs
    missing = documented - NOT_SETTINGS - set(gateway_variables())
    assert not missing, f"named in README/docs/deploy but not a field of bot/config_gateway.py: {sorted(missing)}"


def test_each_variable_belongs_to_one_field() -> None:
    variables = [config_gateway.Settings.variable(n) for n in config_gateway.Settings.model_fields]
    assert len(variables) == len(set(variables))
    assert all(re.fullmatch(r"(BOT|LINE)_[A-Z0-9_]+|PORT|OMP_NUM_THREADS", v) for v in variables), variables


def test_a_field_is_read_from_its_variable_only(monkeypatch) -> None:
    monkeypatch.setenv("VAR_DIR", "/nowhere")  # the field's own name is not a variable
    monkeypatch.setenv("RASA_TIMEOUT", "99")
    monkeypatch.delenv("BOT_RASA_TIMEOUT", raising=False)
    cfg = config.settings()
    assert cfg.var_dir != Path("/nowhere") and cfg.rasa_timeout == 10.0
    monkeypatch.setenv("HOST", "0.0.0.0")
    assert config.settings().host == "127.0.0.1"
    monkeypatch.setenv("BOT_RASA_TIMEOUT", "3.5")
    assert config.settings().rasa_timeout == 3.5


def test_values_given_by_field_name_win_over_the_environment(monkeypatch) -> None:
    monkeypatch.setenv("BOT_RASA_DEADLINE", "7")
    cfg = config.settings()
    changed = config.Settings(**{**vars(cfg), "rasa_deadline": 0.5, "rasa_urls": ("http://r1",)})
    assert cfg.rasa_deadline == 7.0 and changed.rasa_deadline == 0.5 and changed.rasa_url == "http://r1"
    assert changed.var_dir == cfg.var_dir and changed.database_url == cfg.database_url


def _numeric_fields(cls: type) -> list[tuple[str, type]]:
    hints = typing.get_type_hints(cls)
    out = []
    for name in cls.model_fields:
        kind = hints[name]
        args = typing.get_args(kind)
        if kind in (int, float) or (args and set(args) <= {int, float, type(None)}):
            out.append((name, float if float in (kind, *args) else int))
    return out


def test_a_bad_number_stops_with_the_variable_named(monkeypatch) -> None:
    numeric = _numeric_fields(config_gateway.Settings)
    assert {"port", "rasa_port", "notice_months", "rasa_timeout", "tracker_max_events"} <= {n for n, _ in numeric}
    for name, kind in numeric:
        variable = config_gateway.Settings.variable(name)
        monkeypatch.setenv(variable, "eighty")
        with pytest.raises(SystemExit) as stopped:
            config.settings()
        message = str(stopped.value)
        if name.startswith("retention"):
            assert message == f"{variable} must be a whole number of days, got 'eighty'"
        else:
            assert message == f"{variable} must be {'a number' if kind is float else 'an integer'}, got 'eighty'"
        monkeypatch.setenv(variable, "")  # empty: the default
        assert getattr(config.settings(), name) is not None or name == "rasa_replica_count"
        monkeypatch.delenv(variable)


def test_values_are_checked_where_they_are_read(monkeypatch) -> None:
    for variable, value, expected in (("BOT_RASA_REPLICAS", "9", "BOT_RASA_REPLICAS must be 1 to 8, got 9"),
                                      ("BOT_RASA_PORTS", "5005,x", "BOT_RASA_PORTS must be comma-separated"),
                                      ("BOT_RETENTION_DAYS", "-3", "BOT_RETENTION_DAYS must be 0 (off) or more")):
        monkeypatch.setenv(variable, value)
        with pytest.raises(SystemExit, match=re.escape(expected)):
            config.settings()
        monkeypatch.delenv(variable)
    config.settings()


def test_switches_and_derived_defaults(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("BOT_VAR_DIR", str(tmp_path))
    for variable in ("BOT_DATABASE_URL", "BOT_TRACKER_URL", "BOT_CURATED_DIR", "BOT_RASA_SPEEDUPS", "BOT_API_DOCS"):
        monkeypatch.delenv(variable, raising=False)
    cfg = config.settings()
    assert cfg.database_url == f"sqlite:///{tmp_path / 'bot.db'}" and cfg.curated_dir == tmp_path / "curated"
    assert cfg.rasa_speedups and not cfg.api_docs
    monkeypatch.setenv("BOT_RASA_SPEEDUPS", "0")
    monkeypatch.setenv("BOT_API_DOCS", " Yes ")
    monkeypatch.setenv("BOT_DATABASE_URL", "postgresql://bot@db/city")
    cfg = config.settings()
    assert not cfg.rasa_speedups and cfg.api_docs and cfg.tracker_url == "postgresql://bot@db/city"
    with pytest.raises(Exception):  # noqa: B017 (pydantic's frozen-instance error)
        cfg.port = 1


def test_rasa_settings_agree_with_the_gateway(monkeypatch) -> None:
    """bot/config_rasa.py (pydantic 1, inside Rasa): every field is the gateway's field of that
    name, read from the same variable, with the same default and the same value."""
    gateway = config_gateway.Settings.model_fields
    monkeypatch.setenv("BOT_TRACKER_MAX_EVENTS", "33")
    monkeypatch.setenv("BOT_RASA_SPEEDUPS", "0")
    monkeypatch.setenv("BOT_STAFF_API_TOKEN", " tok-123456 ")
    rasa = config_rasa.Settings.load()
    ours = config.settings()
    for name, field in config_rasa.Settings.__fields__.items():
        assert name in gateway, name
        assert config_rasa.Settings.variable(name) == config_gateway.Settings.variable(name), name
        assert field.default == gateway[name].default, name
        assert getattr(rasa, name) == getattr(ours, name), name
    assert rasa.tracker_max_events == 33 and not rasa.rasa_speedups and rasa.staff_api_token == "tok-123456"
    monkeypatch.setenv("BOT_ROUTE_BATCH", "lots")
    with pytest.raises(SystemExit, match="BOT_ROUTE_BATCH must be an integer, got 'lots'"):
        config_rasa.Settings.load()


def test_the_log_scrubber_withholds_every_secret_setting() -> None:
    from bot import logscrub

    secrets = {n for n in config_rasa.Settings.__fields__ if n.endswith(("token", "key", "keys", "secret", "password"))}
    assert secrets == set(logscrub.SECRET_SETTINGS)


def env_reads(source: str) -> list[int]:
    """Lines that read the environment. Writes stay allowed (os.environ.setdefault / update /
    pop, `os.environ[...] = ...`), and so do whole copies for a child process's environment
    (`dict(os.environ)`, `{**os.environ}`)."""
    tree = ast.parse(source)
    parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == "os" and \
                {a.name for a in node.names} & {"environ", "getenv", "getenvb", "environb"}:
            lines.append(node.lineno)
        if not (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "os"):
            continue
        if node.attr in ("getenv", "getenvb"):
            lines.append(node.lineno)
        elif node.attr in ("environ", "environb"):
            parent = parents[node]
            if isinstance(parent, ast.Attribute) and parent.attr in ("setdefault", "update", "pop"):
                continue
            if isinstance(parent, ast.Subscript) and isinstance(parent.ctx, (ast.Store, ast.Del)):
                continue
            if isinstance(parent, ast.Call) and isinstance(parent.func, ast.Name) and parent.func.id == "dict":
                continue
            if isinstance(parent, ast.Dict) and any(k is None and v is node
                                                    for k, v in zip(parent.keys, parent.values, strict=True)):
                continue
            lines.append(node.lineno)
    return sorted(lines)


def test_the_check_finds_reads_and_lets_writes_be() -> None:
    reads = ('import os\na = os.environ.get("X")\nb = os.getenv("Y")\nc = os.environ["Z"]\nd = "Z" in os.environ\n'
             'from os import environ\n')
    assert env_reads(reads) == [2, 3, 4, 5, 6]
    writes = ('import os\nos.environ.setdefault("A", "1")\nos.environ["B"] = "2"\nenv = dict(os.environ)\n'
              'env2 = {**os.environ, "C": "3"}\nos.environ.update({"D": "4"})\n')
    assert env_reads(writes) == []


def test_no_module_but_the_settings_reads_the_environment() -> None:
    found = {}
    for path in sorted([*(ROOT / "bot").rglob("*.py"), *(ROOT / "actions").rglob("*.py")]):
        name = path.relative_to(ROOT).as_posix()
        if name in SETTINGS_MODULES:
            continue
        lines = env_reads(path.read_text(encoding="utf-8"))
        if lines:
            found[name] = lines
    assert not found, f"read the environment outside bot/config*.py (add a field to the settings): {found}"
