import logging

from api.logs import RedactTokens


def test_access_log_lines_lose_their_token_but_keep_the_rest() -> None:
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        (
            "127.0.0.1:5",
            "GET",
            "/api/notifications?access_token=eyJ.abc.def&lastEventId=7",
            "1.1",
            200,
        ),
        None,
    )
    assert RedactTokens().filter(record)
    line = record.getMessage()
    assert "eyJ" not in line
    assert "/api/notifications?access_token=[redacted]&lastEventId=7" in line


def test_engines_keep_bound_values_out_of_error_messages() -> None:
    from core.database import create_engine, create_oneshot_engine

    url = "postgresql://u@127.0.0.1/db"
    assert create_engine(url).sync_engine.hide_parameters
    assert create_oneshot_engine(url).sync_engine.hide_parameters
