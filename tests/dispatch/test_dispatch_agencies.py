"""Agencies and accounts: seeding, the admin's edits (admin only, validated, in admin_log)."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from ngcc112.tickets import agencies as ag
from ngcc112.tickets import accounts as acc
from ngcc112.tickets.agencies import AgencyError, NotPermitted
from ngcc112.tickets.dispatch_models import AdminLogEntry, Agency, AgencyMember
from ngcc112.tickets.users import UserError

NON_ADMINS = ["op1", "disp", "damkar1"]


async def _log(world):
    async with world.sessions() as session:
        return (await session.scalars(select(AdminLogEntry).order_by(AdminLogEntry.id))).all()


async def test_the_default_agencies_are_seeded_once_and_admin_edits_survive_reseeding(world):
    agencies = await ag.list_agencies(world.sessions)
    assert {a.code for a in agencies} == {code for code, _, _ in ag.DEFAULT_AGENCIES}
    assert len(agencies) == 9
    kinds = {a.code: a.kind for a in agencies}
    assert kinds["damkar"] == kinds["psc119"] == kinds["bpbd"] == "OPD"
    assert kinds["polisi"] == kinds["pln"] == kinds["basarnas"] == "Instansi"
    assert all(a.active for a in agencies)

    admin = world.users["admin"]
    await ag.update_agency(world.sessions, admin, "damkar", name="Damkar Kota")
    await ag.update_agency(world.sessions, admin, "pdam", active=False)
    assert await ag.seed_agencies(world.sessions) == []
    again = {a.code: a for a in await ag.list_agencies(world.sessions)}
    assert len(again) == 9
    assert again["damkar"].name == "Damkar Kota" and again["pdam"].active is False
    assert "pdam" not in {a.code for a in await ag.list_agencies(world.sessions, active_only=True)}


async def test_seeding_an_empty_table_adds_every_default(world):
    async with world.sessions.begin() as session:
        await session.execute(AgencyMember.__table__.delete())
        await session.execute(Agency.__table__.delete())
    assert await ag.seed_agencies(world.sessions) == [code for code, _, _ in ag.DEFAULT_AGENCIES]
    assert await ag.seed_agencies(world.sessions) == []


async def test_the_admin_creates_and_edits_agencies_and_each_change_is_logged(world):
    admin = world.users["admin"]
    created = await ag.create_agency(world.sessions, admin, code="pmi", name="PMI (Palang Merah)", kind="OPD")
    assert (created.code, created.active) == ("pmi", True)
    assert (await ag.get_agency(world.sessions, "pmi")).name == "PMI (Palang Merah)"
    updated = await ag.update_agency(world.sessions, admin, "pmi", kind="Instansi", active=False)
    assert (updated.kind, updated.active) == ("Instansi", False)
    await ag.update_agency(world.sessions, admin, "pmi", kind="Instansi")  # no change: no log row
    log = await _log(world)
    assert [(e.actor, e.action, e.subject, e.subject_id) for e in log] == [
        ("admin", "agency_created", "agency", created.id), ("admin", "agency_updated", "agency", created.id)]
    assert log[1].changes == {"code": "pmi", "kind": {"from": "OPD", "to": "Instansi"},
                              "active": {"from": True, "to": False}}


@pytest.mark.parametrize(("values", "field"), [
    ({"code": "Damkar2", "name": "x", "kind": "OPD"}, "code"),
    ({"code": "d", "name": "x", "kind": "OPD"}, "code"),
    ({"code": "damkar", "name": "x", "kind": "OPD"}, "code"),  # exists
    ({"code": "sar", "name": "  ", "kind": "OPD"}, "name"),
    ({"code": "sar", "name": "a\nb", "kind": "OPD"}, "name"),
    ({"code": "sar", "name": "x" * 121, "kind": "OPD"}, "name"),
    ({"code": "sar", "name": "SAR", "kind": "Swasta"}, "kind"),
])
async def test_bad_agency_values_are_refused_with_the_field(world, values, field):
    with pytest.raises(AgencyError) as refused:
        await ag.create_agency(world.sessions, world.users["admin"], **values)
    assert refused.value.field == field
    assert len(await ag.list_agencies(world.sessions)) == 9 and await _log(world) == []


async def test_updating_an_unknown_agency_is_refused(world):
    with pytest.raises(AgencyError, match="no agency 'nasa'"):
        await ag.update_agency(world.sessions, world.users["admin"], "nasa", active=False)


@pytest.mark.parametrize("username", NON_ADMINS)
async def test_only_admins_change_agencies_and_accounts(world, username):
    actor, target = world.users[username], world.users["op1"]
    attempts = [
        ag.create_agency(world.sessions, actor, code="pmi", name="PMI", kind="OPD"),
        ag.update_agency(world.sessions, actor, "damkar", active=False),
        acc.list_accounts(world.sessions, actor),
        acc.change_role(world.sessions, actor, target.id, "dispatcher"),
        acc.set_active(world.sessions, actor, target.id, False),
        acc.set_interface(world.sessions, actor, target.id, "PJSIP/op9"),
        acc.set_user_agency(world.sessions, actor, world.users["loose"].id, "damkar"),
        ag.admin_log(world.sessions, actor),
    ]
    for attempt in attempts:
        with pytest.raises(NotPermitted, match="for admins; not for"):
            await attempt
    assert await _log(world) == []


async def test_an_admin_who_was_deactivated_can_no_longer_administer(world):
    admin = world.users["admin"]
    second = await world.user("admin2", "admin")
    await acc.set_active(world.sessions, second, admin.id, False)
    with pytest.raises(NotPermitted, match="not active"):
        await ag.update_agency(world.sessions, admin, "damkar", active=False)


async def test_accounts_roles_interfaces_and_agency_membership(world):
    s, admin, u = world.sessions, world.users["admin"], world.users
    accounts = {a.username: a for a in await acc.list_accounts(s, admin)}
    assert accounts["damkar1"].agency_code == "damkar" and accounts["loose"].agency_code is None
    assert accounts["op1"].role == "operator" and not hasattr(accounts["op1"], "password_hash")

    await acc.set_user_agency(s, admin, u["loose"].id, "basarnas")
    assert (await ag.agency_of(s, u["loose"].id)).code == "basarnas"
    await acc.set_user_agency(s, admin, u["loose"].id, "bpbd")
    assert (await ag.agency_of(s, u["loose"].id)).code == "bpbd"
    with pytest.raises(UserError) as refused:
        await acc.set_user_agency(s, admin, u["op1"].id, "damkar")
    assert refused.value.field == "agency"
    with pytest.raises(UserError, match="no agency"):
        await acc.set_user_agency(s, admin, u["loose"].id, "nasa")

    # leaving the agency role ends the membership
    await acc.change_role(s, admin, u["psc1"].id, "dispatcher")
    assert await ag.agency_of(s, u["psc1"].id) is None
    with pytest.raises(UserError) as refused:
        await acc.change_role(s, admin, u["op1"].id, "system")
    assert refused.value.field == "role"
    with pytest.raises(UserError, match="no user"):
        await acc.change_role(s, admin, 999_999, "operator")

    await acc.set_interface(s, admin, u["op1"].id, "PJSIP/op1")
    assert await ag.interface_map(s) == {"PJSIP/op1": "op1"}
    with pytest.raises(UserError, match="already belongs to 'op1'"):
        await acc.set_interface(s, admin, u["disp"].id, "PJSIP/op1")
    with pytest.raises(UserError) as refused:
        await acc.set_interface(s, admin, u["disp"].id, "PJSIP/op 1\r\nAction: Originate")
    assert refused.value.field == "interface"
    with pytest.raises(UserError) as refused:  # an operator keeps a softphone: the rule is the data layer's
        await acc.set_interface(s, admin, u["op1"].id, "")
    assert refused.value.field == "interface"
    await acc.set_interface(s, admin, u["disp"].id, "PJSIP/disp1")
    await acc.set_interface(s, admin, u["disp"].id, "")  # anyone else's may be unmapped
    assert await ag.interface_map(s) == {"PJSIP/op1": "op1"}

    await acc.set_active(s, admin, u["op1"].id, False)
    assert not {a.username: a for a in await acc.list_accounts(s, admin)}["op1"].active

    log = await ag.admin_log(s, admin)
    assert [e.action for e in reversed(log)] == [
        "agency_membership", "agency_membership", "role_changed", "interface_changed", "interface_changed",
        "interface_changed", "deactivated"]
    role_change = next(e for e in log if e.action == "role_changed")
    assert role_change.changes == {"username": "psc1", "role": {"from": "agency", "to": "dispatcher"},
                                   "agency": {"from": "psc119", "to": None}}


async def test_the_last_active_admin_stays(world):
    s, admin = world.sessions, world.users["admin"]
    with pytest.raises(UserError, match="last active admin"):
        await acc.change_role(s, admin, admin.id, "operator")
    with pytest.raises(UserError, match="last active admin"):
        await acc.set_active(s, admin, admin.id, False)
    second = await world.user("admin2", "admin")
    await acc.change_role(s, second, admin.id, "dispatcher")
    async with s() as session:
        assert await session.scalar(select(func.count()).select_from(AdminLogEntry)) == 1


async def test_seeding_puts_the_demo_agency_user_in_an_agency_once(world):
    s = world.sessions
    assert await ag.seed_agency_member(s, "loose", "damkar") is True
    assert await ag.seed_agency_member(s, "loose", "polisi") is False, "never moves a member"
    assert (await ag.agency_of(s, world.users["loose"].id)).code == "damkar"
    for username in ("op1", "nobody"):
        with pytest.raises(AgencyError, match="not an agency user"):
            await ag.seed_agency_member(s, username, "damkar")
    await world.user("fresh", "agency")
    with pytest.raises(AgencyError, match="no agency"):
        await ag.seed_agency_member(s, "fresh", "nasa")
