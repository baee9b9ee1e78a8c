"""The notification stream's cursor: late commits of lower ids, settling, a bounded memory."""

from api.notification_cursor import SETTLE_SECONDS, Cursor


def test_a_lower_id_seen_after_a_higher_one_is_still_unseen_until_then() -> None:
    cursor = Cursor(floor=10, seen=[12], now=0.0)
    assert cursor.floor == 10 and cursor.seen == {12}  # 11 may still commit
    cursor.saw([11], now=1.0)
    assert cursor.seen == {11, 12}


def test_the_floor_moves_to_what_was_seen_a_settling_time_ago_and_forgets_below_it() -> None:
    cursor = Cursor(floor=0, seen=[3, 5], now=0.0)
    cursor.saw([8], now=SETTLE_SECONDS / 2)
    assert cursor.floor == 0, "ids seen recently do not settle yet"
    cursor.saw([], now=SETTLE_SECONDS)
    assert (cursor.floor, cursor.seen) == (5, {8})  # 4 would have been open for SETTLE_SECONDS
    cursor.saw([], now=SETTLE_SECONDS * 1.5)
    assert (cursor.floor, cursor.seen) == (8, set())


def test_ids_at_or_below_the_floor_are_not_remembered() -> None:
    cursor = Cursor(floor=10, seen=[4, 10, 11], now=0.0)
    assert cursor.seen == {11}
    cursor.saw([9], now=1.0)
    assert cursor.seen == {11}
    assert cursor.highest == 11


def test_an_idle_stream_keeps_its_floor() -> None:
    cursor = Cursor(floor=7, seen=[], now=0.0)
    cursor.saw([], now=SETTLE_SECONDS * 10)
    assert (cursor.floor, cursor.seen, cursor.highest) == (7, set(), 7)
