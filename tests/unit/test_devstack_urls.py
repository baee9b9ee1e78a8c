"""`make dev` derives the links the API and worker hand out from the ports it listens on."""

import pytest

from devstack.__main__ import derived_urls


@pytest.mark.parametrize(
    ("env", "ui_port", "expected"),
    [
        (
            {},
            "8233",
            {"PUBLIC_URL": "http://127.0.0.1:8000", "TEMPORAL_UI_URL": "http://127.0.0.1:8233"},
        ),
        (
            {"API_PORT": "9100"},
            "9233",
            {"PUBLIC_URL": "http://127.0.0.1:9100", "TEMPORAL_UI_URL": "http://127.0.0.1:9233"},
        ),
        (
            {"API_HOST": "0.0.0.0", "API_PORT": "9100"},
            None,
            {"PUBLIC_URL": "http://127.0.0.1:9100"},
        ),
        ({"API_HOST": "::1"}, None, {"PUBLIC_URL": "http://[::1]:8000"}),
        ({"API_HOST": "app.internal"}, None, {"PUBLIC_URL": "http://app.internal:8000"}),
        # Set explicitly (a proxy in front, an outside Web UI): kept as they are.
        ({"PUBLIC_URL": "https://app.example.com", "TEMPORAL_UI_URL": "https://ui"}, "9233", {}),
    ],
)
def test_links_follow_the_ports_unless_set(
    env: dict[str, str], ui_port: str | None, expected: dict[str, str]
) -> None:
    assert derived_urls(env, ui_port) == expected
