"""The rich menu script, through the real SDK, against the fake LINE API."""

from __future__ import annotations

import io
import sys
from pathlib import Path

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
    finally:
        fake.stop()


def test_image_only(tmp_path) -> None:
    out = tmp_path / "menu.png"
    assert line_rich_menu.main(["--image-only", str(out)]) == 0
    assert out.stat().st_size < 1024 * 1024
