"""Duplicates (#18 item 5): within 250 m when both have coordinates, else the same road with
house numbers close (same section, lane, alley) — never the whole road."""

from __future__ import annotations

import pytest

from bot.cases import dedupe, store
from tests.cases_fixtures import database_fixture  # noqa: F401 - fixture


def spot(text: str) -> dedupe.Spot:
    s = dedupe.spot(text, "建工路")
    assert s is not None, text
    return s


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        ("三民區建工路415號", "三民區建工路100號", False),  # the report in #18: over 1 km apart
        ("三民區建工路415號", "三民區建工路420號", True),  # across the road
        ("三民區建工路415號", "三民區建工路435號", True),  # 20 apart
        ("三民區建工路415號", "三民區建工路436號", False),
        ("三民區建工路415巷3號", "三民區建工路415巷12號", True),  # same lane, close
        ("三民區建工路415巷3號", "三民區建工路415巷40號", False),  # same lane, far along it
        ("三民區建工路415巷", "三民區建工路415巷40號", True),  # the lane alone: somewhere in it
        ("三民區建工路415巷3號", "三民區建工路417巷3號", False),  # another lane
        ("三民區建工路415巷3弄2號", "三民區建工路415巷5弄2號", False),  # another alley
        ("三民區建工路415巷", "三民區建工路410號", True),  # the lane branches off beside 410號
        ("No. 415, Jiangong Rd., Sanmin Dist.", "三民區建工路418號", True),  # typed in English
    ],
)
def test_close_on_the_road(a: str, b: str, same: bool) -> None:
    assert dedupe.close(spot(a), spot(b)) is same


def test_a_road_alone_is_no_spot() -> None:
    assert dedupe.spot("三民區建工路", "建工路") is None
    assert dedupe.spot("三民區建工路100號", "九如一路") is None  # another road
    assert dedupe.spot("", "建工路") is None


def new(**kw) -> store.NewCase:
    base = {
        "service": "road_pothole",
        "channel": "web",
        "citizen": "citizen-a",
        "location_text": "三民區建工路100號",
        "district": "三民區",
        "road": "建工路",
        "lat": None,
        "lon": None,
        "description": "巷子口有個大洞",
    }
    return store.NewCase(**{**base, **kw})


def test_same_road_far_apart_is_not_a_duplicate(database):
    hundred = store.file_case(new())
    lane = store.file_case(new(location_text="三民區建工路415巷3號"))

    def found(location: str, lat: float | None = None, lon: float | None = None) -> list[str]:
        return [
            c.number for c in dedupe.find_duplicates("road_pothole", lat, lon, "建工路", "三民區", location=location)
        ]

    assert found("三民區建工路415號") == [lane.number]  # not 100號, 1 km away
    assert found("三民區建工路108號") == [hundred.number]
    assert found("三民區建工路") == []  # the whole road is never "the same place"
    assert dedupe.find_duplicates("road_pothole", road="建工路", district="三民區") == []
    assert found("三民區建工路108號", 22.6507, 120.3283) == [hundred.number]  # it has no coordinates


def test_both_with_coordinates_use_the_distance(database):
    east = 120.3283 + 150 / (111_320 * 0.923)  # ~150 m
    near = store.file_case(new(lat=22.6507, lon=120.3283))
    got = dedupe.find_duplicates("road_pothole", 22.6507, east, "建工路", "三民區", location="三民區建工路100號")
    assert [c.number for c in got] == [near.number]
    far = 120.3283 + 400 / (111_320 * 0.923)  # ~400 m, even with the same typed address
    assert dedupe.find_duplicates("road_pothole", 22.6507, far, "建工路", "三民區", location="三民區建工路100號") == []
