"""Configuration switching: the environment alone moves storage from SQLite to PostgreSQL
and the lock store from memory to Redis."""

import os

import pytest

from bot import config, rasa_endpoints


@pytest.fixture
def fresh_settings(monkeypatch, tmp_path):
    for name in ("BOT_DATABASE_URL", "BOT_TRACKER_URL", "BOT_REDIS_URL", "BOT_RABBITMQ_URL", "PORT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("BOT_VAR_DIR", str(tmp_path))
    config.settings.cache_clear()
    yield monkeypatch
    config.settings.cache_clear()


def test_embedded_default(fresh_settings, tmp_path):
    cfg = config.settings()
    assert cfg.embedded
    assert cfg.database_url == f"sqlite:///{tmp_path / 'bot.db'}"
    rendered = rasa_endpoints.render(cfg)
    assert rendered["tracker_store"] == {"type": rasa_endpoints.OUR_TRACKER_STORE, "dialect": "sqlite",
                                         "db": str(tmp_path / "tracker.db")}
    assert rendered["lock_store"] == {"type": rasa_endpoints.OUR_LOCK_STORES["in_memory"]}
    fresh_settings.setenv("BOT_RASA_SPEEDUPS", "0")  # the kill switch: Rasa's own SQL and lock stores
    assert rasa_endpoints.render(config.settings())["tracker_store"]["type"] == "SQL"
    assert rasa_endpoints.render(config.settings())["lock_store"] == {"type": "in_memory"}
    assert "event_broker" not in rendered
    assert rendered["action_endpoint"]["url"].startswith("http://127.0.0.1:")


def test_postgresql_redis_rabbitmq_from_environment(fresh_settings):
    fresh_settings.setenv("BOT_DATABASE_URL", "postgresql://bot:s3cret@db.internal:5433/city")
    fresh_settings.setenv("BOT_REDIS_URL", "redis://:pw@cache:6380/2")
    fresh_settings.setenv("BOT_RABBITMQ_URL", "amqp://u:p@mq:5673/")
    cfg = config.settings()
    assert not cfg.embedded
    rendered = rasa_endpoints.render(cfg)
    assert rendered["tracker_store"] == {
        "type": rasa_endpoints.OUR_TRACKER_STORE, "dialect": "postgresql", "url": "db.internal", "port": 5433,
        "db": "city",
        "username": "bot", "password": "s3cret",
    }
    assert rendered["lock_store"] == {
        "type": rasa_endpoints.OUR_LOCK_STORES["redis"], "url": "cache", "port": 6380, "db": 2,
        "key_prefix": "bianmin", "password": "pw",
    }
    assert rendered["event_broker"]["type"] == "pika"
    assert rendered["event_broker"]["url"] == "mq" and rendered["event_broker"]["port"] == 5673


def test_tracker_can_be_separated(fresh_settings):
    fresh_settings.setenv("BOT_DATABASE_URL", "postgresql://bot@h/ours")
    fresh_settings.setenv("BOT_TRACKER_URL", "postgresql://rasa@h2/trackers")
    rendered = rasa_endpoints.render(config.settings())
    assert rendered["tracker_store"]["url"] == "h2" and rendered["tracker_store"]["db"] == "trackers"


def test_bad_port_is_a_clear_error(fresh_settings):
    fresh_settings.setenv("PORT", "eighty")
    with pytest.raises(SystemExit, match="PORT must be an integer"):
        config.settings()


def test_written_file_is_what_rasa_reads(fresh_settings, tmp_path):
    import yaml

    path = rasa_endpoints.write(config.settings())
    assert yaml.safe_load(path.read_text()) == rasa_endpoints.render(config.settings())


def test_rasa_replicas_count_gives_consecutive_ports(monkeypatch) -> None:
    from bot.config import settings

    monkeypatch.delenv("BOT_RASA_PORTS", raising=False)
    monkeypatch.setenv("BOT_RASA_PORT", "6100")
    monkeypatch.setenv("BOT_RASA_REPLICAS", "3")
    settings.cache_clear()
    try:
        assert settings().rasa_ports == (6100, 6101, 6102)
        monkeypatch.setenv("BOT_RASA_PORTS", "7000,7005")  # explicit ports win
        settings.cache_clear()
        assert settings().rasa_ports == (7000, 7005)
        monkeypatch.delenv("BOT_RASA_PORTS")
        monkeypatch.delenv("BOT_RASA_REPLICAS")  # unset: two where there are two cores
        for cores, want in ((1, (6100,)), (2, (6100, 6101)), (8, (6100, 6101)), (None, (6100,))):
            monkeypatch.setattr(os, "cpu_count", lambda cores=cores: cores)
            settings.cache_clear()
            assert settings().rasa_ports == want, cores
        monkeypatch.setenv("BOT_RASA_REPLICAS", "0")
        settings.cache_clear()
        with pytest.raises(SystemExit, match="BOT_RASA_REPLICAS"):
            settings()
    finally:
        settings.cache_clear()
