"""Admin accounts (issue 12, item 6): password reset, disable, the agency / interface rule,
refusals in the page's language; and the live badge only where a live channel is open."""

from __future__ import annotations

import re

import pytest
from dispatch_helpers import login, redirected_back

from ngcc112.tickets import agencies as ag
from ngcc112.tickets import accounts as acc
from ngcc112.tickets.models import User
from ngcc112.tickets.users import UserError, get_user


def h(token: str) -> dict[str, str]:
    return {"X-CSRF-Token": token}


async def accounts(client) -> dict[str, dict]:
    return {u["username"]: u for u in (await (await client.get("/api/admin/users")).json())["users"]}


async def page_token(client, path: str = "/admin/users") -> tuple[str, str]:
    html = await (await client.get(path)).text()
    return html, re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


async def try_login(client, username: str, password: str) -> int:
    token = (await (await client.get("/api/session")).json())["csrf_token"]
    response = await client.post("/api/session", json={"username": username, "password": password},
                                 headers=h(token))
    return response.status


async def who(client) -> str | None:
    user = (await (await client.get("/api/session")).json())["user"]
    return None if user is None else user["username"]


async def test_api_reset_ends_the_sessions_and_only_the_new_password_works(client, other_client, services):
    token = await login(client, "admin")
    users = await accounts(client)
    op2 = users["op2"]["id"]
    theirs = await other_client()
    await login(theirs, "op2")
    copied = await other_client()
    copied.session.cookie_jar.update_cookies(
        {c.key: c.value for c in theirs.session.cookie_jar})
    assert await who(copied) == "op2"

    short = await client.post(f"/api/admin/users/{op2}/password", json={"password": "short"}, headers=h(token))
    assert short.status == 422 and "password" in (await short.json())["errors"]
    mine = await client.post(f"/api/admin/users/{users['admin']['id']}/password",
                             json={"password": "a-new-admin-pw"}, headers=h(token))
    assert mine.status == 422
    assert (await mine.json())["errors"]["password"] == "Ganti kata sandi Anda sendiri di halaman akun"
    missing = await client.post("/api/admin/users/99999/password", json={"password": "long-enough-1"},
                                headers=h(token))
    assert missing.status == 404

    reset = await client.post(f"/api/admin/users/{op2}/password", json={"password": "temporary-112"},
                              headers=h(token))
    assert reset.status == 200, await reset.text()
    assert (await reset.json())["user"]["username"] == "op2"
    assert await who(theirs) is None and await who(copied) is None
    fresh = await other_client()
    assert await try_login(fresh, "op2", "op2-demo-112") == 401
    assert await try_login(fresh, "op2", "temporary-112") == 200
    assert await who(client) == "admin"  # the admin's own session goes on

    admin = User(id=users["admin"]["id"], username="admin", role="admin", password_hash="", active=True)
    entry = next(e for e in await ag.admin_log(services.sessions, admin) if e.action == "password_changed")
    assert (entry.actor, entry.subject_id, entry.changes["username"]) == ("admin", op2, "op2")
    assert "temporary-112" not in str(entry.changes)


async def test_page_offers_reset_and_disable_and_reset_works(client, other_client):
    await login(client, "admin")
    users = await accounts(client)
    op3 = users["op3"]["id"]
    html, token = await page_token(client)
    assert f'action="/admin/users/{op3}/password"' in html
    assert f'action="/admin/users/{users["admin"]["id"]}/password"' not in html  # own: /account/password
    assert "hapus centang untuk menonaktifkan akun" in html
    theirs = await other_client()
    await login(theirs, "op3")

    short = await client.post(f"/admin/users/{op3}/password", data={"csrf_token": token, "password": "pw"})
    assert redirected_back(short, "/admin/users")
    assert 'id="password-{}-error">Minimal 8 karakter'.format(op3) in await short.text()
    done = await client.post(f"/admin/users/{op3}/password",
                             data={"csrf_token": token, "password": "temporary-op3"}, allow_redirects=False)
    assert done.status == 303
    assert "Kata sandi diatur ulang" in await (await client.get("/admin/users")).text()
    assert await who(theirs) is None
    assert await try_login(theirs, "op3", "temporary-op3") == 200


@pytest.mark.parametrize(("values", "field", "message"), [
    ({"role": "agency", "agency": ""}, "agency", "Pengguna instansi harus memiliki instansi"),
    ({"role": "operator", "interface": ""}, "interface", "Operator harus memiliki antarmuka softphone"),
])
async def test_api_refuses_an_agency_user_without_agency_and_an_operator_without_interface(
        client, values, field, message):
    token = await login(client, "admin")
    new = await client.post("/api/admin/users", json={"username": "rina", "password": "rina-demo-112",
                                                      **values}, headers=h(token))
    assert new.status == 422
    assert message in (await new.json())["errors"][field]
    assert "rina" not in await accounts(client)
    dispatcher = (await accounts(client))["dispatcher"]["id"]
    changed = await client.post(f"/api/admin/users/{dispatcher}", json=values, headers=h(token))
    assert changed.status == 422 and message in (await changed.json())["errors"][field]
    assert (await accounts(client))["dispatcher"]["role"] == "dispatcher"


async def test_api_an_agency_user_loses_their_agency_only_by_leaving_the_role(client):
    token = await login(client, "admin")
    users = await accounts(client)
    agency = users["agency"]["id"]
    unlinked = await client.post(f"/api/admin/users/{agency}", json={"agency": None}, headers=h(token))
    assert unlinked.status == 422 and "agency" in (await unlinked.json())["errors"]
    to_operator = await client.post(f"/api/admin/users/{agency}", json={"role": "operator"}, headers=h(token))
    assert to_operator.status == 422 and "interface" in (await to_operator.json())["errors"]
    moved = await client.post(f"/api/admin/users/{users['dispatcher']['id']}",
                              json={"role": "agency", "agency": "bpbd"}, headers=h(token))
    assert moved.status == 200, await moved.text()
    assert ((await moved.json())["user"]["role"], (await moved.json())["user"]["agency"]) == ("agency", "bpbd")
    # an account that predates the rule can still be disabled
    assert (await client.post(f"/api/admin/users/{agency}", json={"active": False}, headers=h(token))).status == 200


async def test_page_refuses_the_same_in_indonesian(client):
    await login(client, "admin")
    _html, token = await page_token(client)
    agency = await client.post("/admin/users", data={"csrf_token": token, "username": "rina", "display_name": "",
                                                     "role": "agency", "password": "rina-demo-112",
                                                     "interface": "", "agency": ""})
    assert redirected_back(agency, "/admin/users")
    assert 'id="new-agency-error">Pengguna instansi harus memiliki instansi' in await agency.text()
    operator = await client.post("/admin/users", data={"csrf_token": token, "username": "rina", "display_name": "",
                                                       "role": "operator", "password": "rina-demo-112",
                                                       "interface": "", "agency": ""})
    assert redirected_back(operator, "/admin/users")
    assert 'id="new-interface-error">Operator harus memiliki antarmuka softphone' in await operator.text()
    dispatcher = (await accounts(client))["dispatcher"]["id"]
    changed = await client.post(f"/admin/users/{dispatcher}", data={"csrf_token": token, "role": "operator",
                                                                   "interface": "", "agency": "", "active": "on"})
    assert redirected_back(changed, "/admin/users")
    assert "Operator harus memiliki antarmuka softphone" in await changed.text()


async def test_already_exists_is_in_the_page_language(client):
    await login(client, "admin")
    _html, token = await page_token(client)
    form = {"csrf_token": token, "username": "op3", "display_name": "", "role": "dispatcher",
            "password": "long-enough-1", "interface": "", "agency": ""}
    indonesian = await client.post("/admin/users", data=form)
    assert redirected_back(indonesian, "/admin/users")
    text = await indonesian.text()
    assert "&#39;op3&#39; sudah ada" in text and "already exists" not in text
    await client.post("/lang", data={"csrf_token": token, "language": "en", "next": "/admin/users"})
    english = await client.post("/admin/users", data=form)
    assert redirected_back(english, "/admin/users") and "&#39;op3&#39; already exists" in await english.text()


async def test_the_data_layer_keeps_the_rule(client, services):
    await login(client, "admin")
    users = await accounts(client)
    admin = await get_user(services.sessions, users["admin"]["id"])
    with pytest.raises(UserError) as refused:
        await acc.change_role(services.sessions, admin, users["dispatcher"]["id"], "agency")
    assert refused.value.field == "agency"
    with pytest.raises(UserError) as refused:
        await acc.change_role(services.sessions, admin, users["dispatcher"]["id"], "operator")
    assert refused.value.field == "interface"
    await acc.change_role(services.sessions, admin, users["dispatcher"]["id"], "agency", agency_code="pln")
    assert (await ag.agency_of(services.sessions, users["dispatcher"]["id"])).code == "pln"


LIVE_BADGE = 'id="live-status"'


@pytest.mark.parametrize("path", ["/reports", "/admin/users", "/admin/agencies", "/account/password"])
async def test_no_live_badge_without_a_live_channel(client, path):
    await login(client, "admin")
    response = await client.get(path)
    assert response.status == 200
    assert LIVE_BADGE not in await response.text()


async def test_the_live_pages_keep_their_badge(client, other_client):
    await login(client, "dispatcher")
    for path in ("/dispatch", "/callbacks"):
        assert LIVE_BADGE in await (await client.get(path)).text(), path
    assert LIVE_BADGE not in await (await client.get("/reports")).text()
    operator = await other_client()
    await login(operator, "op1")
    assert LIVE_BADGE in await (await operator.get("/")).text()
