"""POST /api/uploads (photos for case forms) and the image_id hand-over to the conversation."""

from __future__ import annotations

import io

from tests.test_handoff_flow import chat, say  # noqa: F401 - shared fixture (mock Rasa, temp var/)


def png() -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 30, 30)).save(buf, "PNG")
    return buf.getvalue()


def test_image_is_stored_and_its_id_reaches_rasa(chat) -> None:  # noqa: F811
    client, seen = chat
    resp = client.post("/api/uploads", content=png(), headers={"Content-Type": "image/png"})
    assert resp.status_code == 201, resp.text
    image_id = resp.json()["image_id"]
    assert len(image_id) == 32 and resp.json()["kind"] == "png"
    say(client, None, image_id=image_id)
    assert seen[-1]["metadata"]["image_id"] == image_id


def test_unknown_image_ids_are_dropped(chat) -> None:  # noqa: F811
    client, seen = chat
    say(client, "路燈不亮", image_id="../../etc/passwd")
    assert "image_id" not in seen[-1]["metadata"]


def test_non_images_are_refused_whatever_the_client_claims(chat) -> None:  # noqa: F811
    client, _ = chat
    for body in (b"<script>alert(1)</script>", b"%PDF-1.4 not an image", b"MZ\x90\x00"):
        resp = client.post("/api/uploads", content=body, headers={"Content-Type": "image/png"})
        assert resp.status_code == 415, resp.text
    assert client.post("/api/uploads", content=b"").status_code == 400


def test_oversize_upload_is_refused(chat) -> None:  # noqa: F811
    from bot import media

    client, _ = chat
    big = png() + b"\0" * (media.MAX_BYTES + 1)
    resp = client.post("/api/uploads", content=big, headers={"Content-Type": "image/png"})
    assert resp.status_code == 413


def test_messages_are_never_html_on_the_operator_side(chat) -> None:  # noqa: F811
    """The desk API returns JSON text; both pages insert it with textContent (browser test checks)."""
    client, _ = chat
    say(client, "/human_handoff")
    say(client, "<img src=x onerror=alert(1)>")
    from tests.test_handoff_flow import OP

    cid = client.get("/staff/operator/api/queue", headers=OP).json()[0]["id"]
    conv = client.get(f"/staff/operator/api/conversations/{cid}", headers=OP)
    assert conv.headers["content-type"].startswith("application/json")
    assert "<img src=x onerror=alert(1)>" in [m["text"] for m in conv.json()["messages"]]
    for page in ("/", "/staff/operator"):
        assert "innerHTML" not in client.get(page).text
    for script in ("/static/chat.js", "/static/render.js", "/staff/operator/static/operator.js"):
        assert "innerHTML" not in client.get(script).text and "insertAdjacentHTML" not in client.get(script).text
