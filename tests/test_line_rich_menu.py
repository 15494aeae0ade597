"""The rich menu script, through the real SDK, against the fake LINE API."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import httpx
from PIL import Image

from tests.fake_line_api import FakeLineAPI

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))
import line_rich_menu  # noqa: E402


def test_rich_menu_created_with_its_image_and_set_default(monkeypatch) -> None:
    fake = FakeLineAPI("menu-token").start()
    try:
        monkeypatch.setenv("LINE_CHANNEL_ACCESS_TOKEN", "menu-token")
        monkeypatch.setenv("LINE_API_HOST", fake.url)
        assert line_rich_menu.main([]) == 0
        assert line_rich_menu.main(["--replace"]) == 0  # a second run replaces the first menu
        [(menu_id, menu)] = fake.rich_menus.items()
        assert fake.default_rich_menu == menu_id
        labels = [a["action"].get("label") for a in menu["areas"]]
        assert labels == ["報案", "查進度", "青年資源", "常見問題", "真人客服"]
        assert all("style" not in a for a in menu["areas"])
        with Image.open(io.BytesIO(fake.rich_menu_images[menu_id])) as img:
            assert img.size == (2500, 1686) and img.format == "PNG"
        upload = [r for r in fake.requests if r.path.endswith("/content")][0]
        assert upload.headers["Content-Type"] == "image/png"
        # What LINE received, read over the fake's HTTP view: every tile is a postback naming a
        # fixed intent (never words for the language model to guess at).
        view = httpx.get(f"{fake.url}/_fake/requests", timeout=10).json()
        created = [r["body"] for r in view if r["method"] == "POST" and r["path"] == "/v2/bot/richmenu"]
        assert len(created) == 2
        actions = [a["action"] for a in created[-1]["areas"]]
        assert all(a["type"] == "postback" for a in actions)
        assert [a["data"] for a in actions] == ["/report_start", "/case_status", "/youth_start", "/faq",
                                                "/human_handoff"]
        assert all(a["displayText"] for a in actions)
    finally:
        fake.stop()


def test_image_only(tmp_path) -> None:
    out = tmp_path / "menu.png"
    assert line_rich_menu.main(["--image-only", str(out)]) == 0
    assert out.stat().st_size < 1024 * 1024


def test_a_tile_that_sends_words_is_refused(tmp_path, capsys) -> None:
    definition = line_rich_menu.load()
    assert line_rich_menu.problems(definition) == []  # the shipped menu
    definition["areas"][0]["action"] = {"type": "message", "label": "報案", "text": "我要報案"}
    path = tmp_path / "menu.json"
    path.write_text(json.dumps(definition, ensure_ascii=False), encoding="utf-8")
    assert line_rich_menu.main(["--definition", str(path), "--image-only", str(tmp_path / "m.png")]) == 1
    assert "報案" in capsys.readouterr().err and not (tmp_path / "m.png").exists()


def test_no_chinese_font_refuses_to_publish_english_labels(monkeypatch, capsys) -> None:
    fake = FakeLineAPI("menu-token").start()
    try:
        monkeypatch.setenv("LINE_CHANNEL_ACCESS_TOKEN", "menu-token")
        monkeypatch.setenv("LINE_API_HOST", fake.url)
        monkeypatch.setattr(line_rich_menu, "CJK_FONTS", [])
        monkeypatch.delenv("RICH_MENU_FONT", raising=False)
        assert line_rich_menu.main([]) == 1
        assert "English labels" in capsys.readouterr().err
        assert fake.rich_menus == {}  # nothing reached LINE
        assert line_rich_menu.main(["--allow-english"]) == 0
        [(_, menu)] = fake.rich_menus.items()
        assert menu["areas"]
    finally:
        fake.stop()
