"""Create the LINE rich menu (報案 / 查進度 / 青年資源 / 常見問題 / 真人客服) and make it the default.

The menu is defined in knowledge_base/line_rich_menu.json (LINE's rich menu object, plus a
"style" per area that only this script reads: tile colour, pictogram, English label). The
image is drawn here with Pillow, so the menu changes by editing the JSON, not a picture.
Every tile is a postback whose data names a fixed intent ("/report_start"): a tile that sent
words would go through the language model, which guesses ("我要報案" → missing persons). The
gateway's welcome offers the same postbacks as quick replies (bot/channels/line.py).

    .venv/bin/python scripts/line_rich_menu.py             # create, upload, set default
    .venv/bin/python scripts/line_rich_menu.py --image-only menu.png
    .venv/bin/python scripts/line_rich_menu.py --replace   # also delete our older menus

Reads LINE_CHANNEL_ACCESS_TOKEN (and LINE_API_HOST for a fake server) from the environment.
Chinese labels need a CJK font: --font PATH or RICH_MENU_FONT, else common system paths are
tried; without one the English labels are drawn for --image-only, and publishing is refused
(citizens would get an English menu) unless --allow-english says that is what you want.
"""

from __future__ import annotations

import argparse
import io
import json
import math
import os
import sys
from pathlib import Path
from typing import Any

from linebot.v3.messaging import ApiClient, Configuration, MessagingApi, MessagingApiBlob, RichMenuRequest
from PIL import Image, ImageDraw, ImageFont

ROOT = Path(__file__).resolve().parent.parent
DEFINITION = ROOT / "knowledge_base" / "line_rich_menu.json"
CJK_FONTS = [
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/arphic/uming.ttc",
    "/System/Library/Fonts/PingFang.ttc",
    "C:/Windows/Fonts/msjh.ttc",
]
LATIN_FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"


def load(path: Path = DEFINITION) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def problems(definition: dict[str, Any]) -> list[str]:
    """Tiles that would not name what they start: each must be a postback with "/intent" data
    (or a link)."""
    out = []
    for area in definition["areas"]:
        action = area["action"]
        if action.get("type") == "uri":
            continue
        if action.get("type") != "postback" or not str(action.get("data", "")).startswith("/"):
            out.append(f"tile {action.get('label')!r}: must be a postback with data '/<intent>'")
    return out


def menu_request(definition: dict[str, Any]) -> RichMenuRequest:
    body = {k: v for k, v in definition.items() if k != "areas"}
    body["areas"] = [{"bounds": a["bounds"], "action": a["action"]} for a in definition["areas"]]
    return RichMenuRequest.from_dict(body)


def _font(size: int, font_path: str | None) -> tuple[ImageFont.FreeTypeFont | ImageFont.ImageFont, bool]:
    for path in [font_path, os.environ.get("RICH_MENU_FONT"), *CJK_FONTS]:
        if path and Path(path).exists():
            return ImageFont.truetype(path, size), True
    if Path(LATIN_FONT).exists():
        return ImageFont.truetype(LATIN_FONT, size), False
    return ImageFont.load_default(size), False


def _icon(draw: ImageDraw.ImageDraw, kind: str, cx: int, cy: int, r: int) -> None:
    white = "#FFFFFF"
    w = max(12, r // 7)
    if kind == "report":  # a megaphone-ish flag: pole and pennant
        draw.line([(cx - r // 2, cy - r), (cx - r // 2, cy + r)], fill=white, width=w)
        draw.polygon([(cx - r // 2, cy - r), (cx + r, cy - r // 2), (cx - r // 2, cy)], fill=white)
    elif kind == "status":  # magnifier
        draw.ellipse([cx - r, cy - r, cx + r // 3, cy + r // 3], outline=white, width=w)
        draw.line([(cx + r // 6, cy + r // 6), (cx + r, cy + r)], fill=white, width=w + 8)
    elif kind == "youth":  # a star
        pts = []
        for i in range(10):
            rad = r if i % 2 == 0 else r * 0.45
            ang = -math.pi / 2 + i * math.pi / 5
            pts.append((cx + rad * math.cos(ang), cy + rad * math.sin(ang)))
        draw.polygon(pts, fill=white)
    elif kind == "faq":  # speech bubble
        draw.rounded_rectangle([cx - r, cy - r * 3 // 4, cx + r, cy + r // 2], radius=r // 4, fill=white)
        draw.polygon([(cx - r // 3, cy + r // 2), (cx - r // 2, cy + r), (cx, cy + r // 2)], fill=white)
    else:  # person: head and shoulders
        draw.ellipse([cx - r // 2, cy - r, cx + r // 2, cy], fill=white)
        draw.pieslice([cx - r, cy + r // 6, cx + r, cy + 2 * r], 180, 360, fill=white)


def render_image(definition: dict[str, Any], font_path: str | None = None) -> tuple[bytes, bool]:
    """PNG bytes of the menu and whether the Chinese labels could be drawn."""
    size = definition["size"]
    img = Image.new("RGB", (size["width"], size["height"]), "#FFFFFF")
    draw = ImageDraw.Draw(img)
    font, cjk = _font(120, font_path)
    small, _ = _font(64, LATIN_FONT if not cjk else font_path)
    for area in definition["areas"]:
        b, style = area["bounds"], area.get("style", {})
        box = [b["x"] + 8, b["y"] + 8, b["x"] + b["width"] - 8, b["y"] + b["height"] - 8]
        draw.rounded_rectangle(box, radius=40, fill=style.get("color", "#0B6E4F"))
        cx, cy = b["x"] + b["width"] // 2, b["y"] + b["height"] // 2
        _icon(draw, style.get("icon", ""), cx, cy - 140, 150)
        label = area["action"].get("label", "") if cjk else style.get("en", area["action"].get("label", ""))
        draw.text((cx, cy + 150), label, font=font, fill="#FFFFFF", anchor="mm")
        if cjk and style.get("en"):
            draw.text((cx, cy + 280), style["en"], font=small, fill="#FFFFFFCC", anchor="mm")
    out = io.BytesIO()
    img.save(out, "PNG", optimize=True)
    return out.getvalue(), cjk


def publish(definition: dict[str, Any], image: bytes, token: str, host: str | None, replace: bool = False) -> str:
    config = Configuration(host=host or None, access_token=token)
    with ApiClient(config) as client:
        api, blob = MessagingApi(client), MessagingApiBlob(client)
        request = menu_request(definition)
        api.validate_rich_menu_object(request)
        old = [m.rich_menu_id for m in api.get_rich_menu_list().richmenus if m.name == definition["name"]]
        menu_id = api.create_rich_menu(request).rich_menu_id
        blob.set_rich_menu_image(menu_id, image, _headers={"Content-Type": "image/png"})
        api.set_default_rich_menu(menu_id)
        if replace:
            for stale in old:
                api.delete_rich_menu(stale)
    return menu_id


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Create the LINE rich menu and set it as default.")
    parser.add_argument("--definition", type=Path, default=DEFINITION)
    parser.add_argument("--font", help="a TrueType/OpenType font with Traditional Chinese glyphs")
    parser.add_argument("--image-only", type=Path, metavar="PNG", help="only render the image to this file")
    parser.add_argument("--replace", action="store_true", help="delete older menus of the same name")
    parser.add_argument("--allow-english", action="store_true",
                        help="publish the English labels when no CJK font is found (refused otherwise)")
    args = parser.parse_args(argv)
    definition = load(args.definition)
    for problem in problems(definition):
        print(problem, file=sys.stderr)
    if problems(definition):
        return 1
    image, cjk = render_image(definition, args.font)
    if not cjk:
        print("no CJK font found: drew the English labels (pass --font or set RICH_MENU_FONT)", file=sys.stderr)
    if len(image) > 1024 * 1024:
        print(f"rendered image is {len(image)} bytes; LINE accepts at most 1 MB", file=sys.stderr)
        return 1
    if not cjk and not args.image_only and not args.allow_english:
        print("refusing to publish a menu with English labels to Chinese-speaking citizens: install a CJK "
              "font (e.g. apt-get install fonts-noto-cjk) or pass --font; --allow-english to publish anyway",
              file=sys.stderr)
        return 1
    if args.image_only:
        args.image_only.write_bytes(image)
        print(f"wrote {args.image_only} ({len(image)} bytes)")
        return 0
    token = os.environ.get("LINE_CHANNEL_ACCESS_TOKEN", "")
    if not token:
        print("LINE_CHANNEL_ACCESS_TOKEN is not set", file=sys.stderr)
        return 2
    menu_id = publish(definition, image, token, os.environ.get("LINE_API_HOST"), args.replace)
    print(f"rich menu {menu_id} created and set as default")
    return 0


if __name__ == "__main__":
    sys.exit(main())
