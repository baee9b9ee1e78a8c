"""Driver errors become sentences an operator can act on, chosen by SQLSTATE; the driver's text
is kept apart as the detail, without SQLAlchemy's sqlalche.me link."""

import pytest
from sqlalchemy.exc import DBAPIError

from activities.translate import DATABASE_ERROR, at_boundary, describe_detail, for_operator


class DriverError(Exception):
    """Shaped like asyncpg's errors as SQLAlchemy wraps them: the SQLSTATE on `.sqlstate`."""

    def __init__(self, message: str, sqlstate: str) -> None:
        super().__init__(message)
        self.sqlstate = sqlstate


def wrapped(sqlstate: str, message: str = "driver text") -> DBAPIError:
    return DBAPIError("CREATE DATABASE x", None, DriverError(message, sqlstate))


@pytest.mark.parametrize(
    ("sqlstate", "because"),
    [
        ("42P04", "a database of that name already exists"),
        ("42P06", "a schema of that name already exists"),
        ("42501", "the database role lacks the privilege"),
        ("55006", "another session is connected to it"),
        ("55P03", "another session held a lock it needed for longer than the lock timeout"),
        ("53300", "it has too many connections open"),
        ("53100", "its disk is full"),
        ("57P01", "the server is shutting down or restarting"),  # by class 57
        ("08006", "the connection to the server failed"),  # by class 08
        ("23505", "the change would break a constraint"),  # by class 23
        ("XX000", "of error XX000"),  # unknown: still a sentence, with the code
    ],
)
def test_a_driver_error_becomes_a_sentence_by_sqlstate(sqlstate: str, because: str) -> None:
    error = for_operator(wrapped(sqlstate), "create the tenant's database")
    assert error is not None
    assert error.message.startswith(
        f"PostgreSQL refused to create the tenant's database because {because}"
    )
    assert error.type == DATABASE_ERROR and not error.non_retryable


def test_the_template_in_use_sentence_and_its_detail() -> None:
    err = wrapped("55006", 'source database "template1" is being accessed by other users')
    error = for_operator(err, "copy the template database")
    assert error is not None
    assert error.message == (
        "PostgreSQL refused to copy the template database because another session is "
        "connected to it"
    )
    detail = describe_detail(error)
    assert detail is not None
    assert 'source database "template1" is being accessed by other users' in detail
    assert "CREATE DATABASE x" in detail  # the statement stays in the detail
    assert "sqlalche.me" in str(err) and "sqlalche.me" not in detail


def test_a_refused_connection_says_postgresql_could_not_be_reached() -> None:
    error = at_boundary("create_admin_user", ConnectionRefusedError("Connect call failed"))
    assert error is not None
    assert error.message == (
        "Could not reach PostgreSQL to create the tenant's admin user: the connection was "
        "refused (is the server running, is DATABASE_URL right?)"
    )
    assert describe_detail(error) == "ConnectionRefusedError: Connect call failed"


def test_what_is_no_driver_error_is_left_alone() -> None:
    assert for_operator(ValueError("a bug"), "migrate the tenant's schema") is None
    # The e-mail activity talks SMTP, not PostgreSQL: its errors are not ours to translate.
    assert at_boundary("send_welcome_email", ConnectionRefusedError()) is None
    assert describe_detail(ValueError("x")) is None
