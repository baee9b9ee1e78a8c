"""A cancel that arrives while the final step (activation) runs is too late: the run finishes
Active with everything it made — never an Active row whose storage compensation removed."""

import contextlib

import httpx
import pytest

from core.settings import Settings
from core.status import TenantStatus
from tests.faults.holds import ACTIVATE, start_held
from tests.faults.storage import NOTHING_LEFT, expected_footprint, tenant_footprint
from tests.helpers import unique_tenant_id, wait_for_status

pytestmark = pytest.mark.faults

FINAL = {TenantStatus.ACTIVE, TenantStatus.FAILED, TenantStatus.CANCELLED}


@pytest.mark.parametrize("isolated", [False, True], ids=["shared", "isolated"])
async def test_a_cancel_during_activation_leaves_a_consistent_tenant(
    api: httpx.AsyncClient, settings: Settings, isolated: bool
) -> None:
    tenant_id = unique_tenant_id("late")
    async with contextlib.AsyncExitStack() as held:
        await start_held(held, api, settings, tenant_id, ACTIVATE, isolated=isolated)
        cancel = await api.post(f"/api/tenants/{tenant_id}/cancel")
        assert cancel.status_code in (202, 409), cancel.text
        print("cancel during activation:", cancel.status_code, cancel.text)
    tenant = await wait_for_status(api, tenant_id, FINAL, within=60)
    footprint = await tenant_footprint(settings, tenant_id)

    if tenant["status"] == "Cancelled":
        assert footprint == NOTHING_LEFT | {"rows": 1}
    else:
        assert tenant["status"] == "Active", tenant["provisioningError"]
        assert footprint == expected_footprint(isolated)
