import pytest
from pydantic import SecretStr, ValidationError

from api.schemas import TenantCreate
from core.passwords import PASSWORD_RULE, check_password_policy, hash_password, verify_password


@pytest.mark.parametrize("password", ["abcdefg1", "correct horse 42", "Ünïcode9x"])
def test_passwords_meeting_the_policy_pass(password: str) -> None:
    assert check_password_policy(password) == password


@pytest.mark.parametrize("password", ["abc1", "abcdefgh", "12345678", "________", "a1" * 65])
def test_passwords_breaking_the_policy_fail(password: str) -> None:
    with pytest.raises(ValueError, match=PASSWORD_RULE):
        check_password_policy(password)


def test_hash_verifies_only_the_right_password() -> None:
    hashed = hash_password("s3cret-pass")
    assert hashed.startswith("$argon2")
    assert verify_password("s3cret-pass", hashed)
    assert not verify_password("s3cret-pasS", hashed)
    assert not verify_password("s3cret-pass", None)


def test_create_request_normalises_and_hides_the_password() -> None:
    request = TenantCreate.model_validate(
        {
            "id": "acme",
            "name": "  Acme  ",
            "adminEmail": "Admin@Acme.Example.COM",
            "password": "s3cret-pass",
        }
    )
    assert request.name == "Acme"
    assert request.admin_email == "admin@acme.example.com"
    assert request.has_isolated_database is False
    assert isinstance(request.password, SecretStr)
    assert "s3cret" not in repr(request)


def test_create_request_rejects_unknown_fields() -> None:
    with pytest.raises(ValidationError) as err:
        TenantCreate.model_validate(
            {"id": "acme", "name": "A", "adminEmail": "a@b.com", "password": "abcdefg1", "x": 1}
        )
    assert [e["loc"] for e in err.value.errors()] == [("x",)]
