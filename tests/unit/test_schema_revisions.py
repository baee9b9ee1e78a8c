"""The tenant schema's revisions as read from migrations/tenant, and resolving a target."""

import pytest

from core.schema import UnknownRevision, is_downgrade, resolve_revision, tenant_revisions


def test_revisions_are_listed_oldest_first_with_their_descriptions() -> None:
    head, revisions = tenant_revisions()
    assert [r.id for r in revisions] == ["t0001", "t0002", "t0003"]
    assert head == revisions[-1].id
    assert all(r.description for r in revisions)


@pytest.mark.parametrize(("name", "resolved"), [("head", "t0003"), ("t0001", "t0001")])
def test_head_and_ids_resolve(name: str, resolved: str) -> None:
    assert resolve_revision(name) == resolved


@pytest.mark.parametrize("name", ["t0004", "HEAD", "", "base", "t0003 "])
def test_anything_else_is_an_unknown_revision_naming_the_choices(name: str) -> None:
    with pytest.raises(UnknownRevision) as refused:
        resolve_revision(name)
    assert str(refused.value) == (
        f"'{name}' is not a tenant schema revision: give 'head' or one of t0001, t0002, t0003"
    )


@pytest.mark.parametrize(
    ("start", "target", "down"),
    [(None, "t0003", False), ("t0002", "t0003", False), ("t0003", "t0001", True)],
)
def test_a_move_to_an_older_revision_is_a_downgrade(
    start: str | None, target: str, down: bool
) -> None:
    assert is_downgrade(start, target) is down
