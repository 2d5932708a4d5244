"""The account rule lives in the data layer: an operator needs a softphone interface, an agency user an
agency — when created (panel and command line alike) and when changed (SQLite and PostgreSQL)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from ngcc112.tickets import accounts as acc
from ngcc112.tickets.dispatch_models import AgencyMember
from ngcc112.tickets.models import User
from ngcc112.tickets.users import UserError, add_user


@pytest.mark.parametrize(("values", "field", "msgid"), [
    ({"role": "operator"}, "interface", "An operator needs a softphone interface like PJSIP/op1"),
    ({"role": "agency"}, "agency", "An agency user needs an agency"),
    ({"role": "agency", "agency": "nowhere"}, "agency", "Choose an agency from the list"),
    ({"role": "dispatcher", "agency": "damkar"}, "agency", "Only agency users belong to an agency"),
])
async def test_add_user_refuses_an_incomplete_account_and_writes_nothing(world, values, field, msgid):
    with pytest.raises(UserError) as refused:
        await add_user(world.sessions, username="newbie", password="long enough", **values)
    assert (refused.value.field, refused.value.msgid) == (field, msgid)
    async with world.sessions() as session:
        assert await session.scalar(select(User).where(User.username == "newbie")) is None


async def test_add_user_puts_an_agency_user_in_their_agency_in_one_step(world):
    user = await add_user(world.sessions, username="pln1", role="agency", password="long enough", agency="pln")
    async with world.sessions() as session:
        member = await session.get(AgencyMember, user.id)
    assert member is not None and member.agency_id == world.agencies["pln"].id
    operator = await add_user(world.sessions, username="op9", role="operator", password="long enough",
                              interface="PJSIP/op9")
    assert operator.interface == "PJSIP/op9"


async def test_changes_keep_the_rule(world):
    admin = world.users["admin"]
    operator = await add_user(world.sessions, username="op9", role="operator", password="long enough",
                              interface="PJSIP/op9")
    with pytest.raises(UserError) as refused:
        await acc.set_interface(world.sessions, admin, operator.id, None)
    assert refused.value.field == "interface"
    with pytest.raises(UserError) as refused:
        await acc.set_user_agency(world.sessions, admin, world.users["damkar1"].id, None)
    assert refused.value.field == "agency"
    async with world.sessions() as session:
        assert (await session.get(User, operator.id)).interface == "PJSIP/op9"
        assert await session.get(AgencyMember, world.users["damkar1"].id) is not None
    # an account that predates the rule ("loose": an agency user in no agency) can still be disabled
    await acc.set_active(world.sessions, admin, world.users["loose"].id, False)
