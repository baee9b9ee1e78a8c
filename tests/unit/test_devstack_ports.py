"""`make dev` checks every port it will listen on before it starts anything."""

from devstack.__main__ import ports_to_listen_on


def test_every_port_of_the_stack_is_checked_by_default() -> None:
    assert ports_to_listen_on({}, start_temporal=True) == {
        "API_PORT": "8000",
        "TEMPORAL_PORT": "7233",
        "TEMPORAL_UI_PORT": "8233",
        "TEMPORAL_METRICS_PORT": "7235",
        "WORKER_METRICS_PORT": "9464",
        "SMTP_PORT": "1025",
    }


def test_ports_follow_the_settings_and_what_is_not_started_is_not_checked() -> None:
    env = {"API_PORT": "18000", "WORKER_METRICS_PORT": "", "SMTP_HOST": "mail.example.com"}
    assert ports_to_listen_on(env, start_temporal=False) == {"API_PORT": "18000"}
