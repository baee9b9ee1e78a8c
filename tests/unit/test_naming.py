import pytest

from core.naming import (
    PG_MAX_IDENTIFIER,
    TENANT_ID_RULE,
    quote_ident,
    storage_name,
    validate_tenant_id,
)


@pytest.mark.parametrize("tenant_id", ["acme", "a1b", "acme-corp", "x9-y8-z7", "a" * 63])
def test_valid_ids_pass_unchanged(tenant_id: str) -> None:
    assert validate_tenant_id(tenant_id) == tenant_id


@pytest.mark.parametrize(
    ("tenant_id", "reason"),
    [
        ("ab", TENANT_ID_RULE),
        ("a" * 64, TENANT_ID_RULE),
        ("Acme", TENANT_ID_RULE),
        ("9lives", TENANT_ID_RULE),
        ("-acme", TENANT_ID_RULE),
        ("acme-", TENANT_ID_RULE),
        ("ac--me", TENANT_ID_RULE),
        ("ac_me", TENANT_ID_RULE),
        ('ac"me', TENANT_ID_RULE),
        ("acmé", TENANT_ID_RULE),
        ("root", "'root' is reserved"),
        ("postgres", "'postgres' is reserved"),
        ("template0", "'template0' is reserved"),
        ("user", "'user' is reserved"),
        ("pg-stat", "'pg-stat' is reserved"),
    ],
)
def test_invalid_ids_say_why(tenant_id: str, reason: str) -> None:
    with pytest.raises(ValueError) as err:
        validate_tenant_id(tenant_id)
    assert str(err.value) == reason


def test_storage_name_maps_hyphens_and_keeps_the_prefix() -> None:
    assert storage_name("tenant_", "acme-corp") == "tenant_acme_corp"


def test_long_ids_get_distinct_names_within_postgres_limit() -> None:
    first, second = "a" * 62 + "b", "a" * 62 + "c"
    names = {storage_name("tenant_", first), storage_name("tenant_", second)}
    assert len(names) == 2
    assert all(len(name) <= PG_MAX_IDENTIFIER for name in names)
    assert storage_name("tenant_", first) == storage_name("tenant_", first)


def test_storage_name_refuses_an_invalid_id() -> None:
    with pytest.raises(ValueError):
        storage_name("tenant_", 'x"; DROP DATABASE postgres; --')


@pytest.mark.parametrize(
    ("name", "quoted"), [("tenant_acme", '"tenant_acme"'), ('we"ird', '"we""ird"')]
)
def test_identifiers_are_always_quoted(name: str, quoted: str) -> None:
    assert quote_ident(name) == quoted
