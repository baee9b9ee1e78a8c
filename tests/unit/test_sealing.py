"""Sealing the admin password (core/sealing.py) and the PASSWORD_SEALING_KEY setting."""

import base64

import pytest
from pydantic import SecretStr, ValidationError

from core.sealing import CannotUnseal, decode_key, new_key, seal, unseal
from core.settings import Settings

KEY = decode_key(new_key())


def test_a_sealed_password_unseals_with_its_key_and_tenant() -> None:
    sealed = seal(KEY, "acme", "s3cret-pass")
    assert b"s3cret-pass" not in sealed
    assert unseal(KEY, "acme", sealed) == "s3cret-pass"


def test_the_same_password_seals_differently_each_time() -> None:
    assert seal(KEY, "acme", "s3cret-pass") != seal(KEY, "acme", "s3cret-pass")


@pytest.mark.parametrize("case", ["other key", "other tenant", "altered", "truncated"])
def test_anything_else_does_not_unseal(case: str) -> None:
    sealed = seal(KEY, "acme", "s3cret-pass")
    key, tenant_id = KEY, "acme"
    if case == "other key":
        key = decode_key(new_key())
    elif case == "other tenant":
        tenant_id = "acme2"
    elif case == "altered":
        sealed = sealed[:-1] + bytes([sealed[-1] ^ 1])
    else:
        sealed = sealed[:10]
    with pytest.raises(CannotUnseal):
        unseal(key, tenant_id, sealed)


@pytest.mark.parametrize(
    "text",
    ["not base64!", base64.urlsafe_b64encode(b"x" * 16).decode(), "", "QUJD"],
    ids=["garbage", "16 bytes", "empty", "3 bytes"],
)
def test_a_key_must_be_base64url_of_32_bytes(text: str) -> None:
    with pytest.raises(ValueError, match="PASSWORD_SEALING_KEY"):
        decode_key(text)


def test_the_setting_is_checked_and_optional() -> None:
    key = new_key()
    assert Settings(password_sealing_key=SecretStr(key)).sealing_key() == decode_key(key)
    assert Settings(password_sealing_key=None).sealing_key() is None
    empty = Settings.model_validate({"password_sealing_key": ""})  # an empty variable: unset
    assert empty.sealing_key() is None
    with pytest.raises(ValidationError, match="PASSWORD_SEALING_KEY"):
        Settings(password_sealing_key=SecretStr("too-short"))
