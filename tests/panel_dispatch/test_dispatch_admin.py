"""Admin pages and API: users (add, role, interface, agency, deactivate) and agencies."""

from __future__ import annotations

import re

from dispatch_helpers import login, redirected_back

from ngcc112.tickets.agencies import admin_log, agency_of


def h(token: str) -> dict[str, str]:
    return {"X-CSRF-Token": token}


async def test_only_admins(client, other_client):
    for username in ("dispatcher", "op1", "agency"):
        second = await other_client()
        token = await login(second, username)
        for path in ("/api/admin/users", "/api/admin/agencies"):
            assert (await second.get(path)).status == 403, (username, path)
        response = await second.post("/api/admin/agencies", json={"code": "x1", "name": "X", "kind": "OPD"},
                                     headers=h(token))
        assert response.status == 403
    token = await login(client, "admin")
    assert (await client.post("/api/admin/users", json={"username": "zz"})).status == 403  # no CSRF


async def test_add_a_user_with_per_field_errors_then_an_agency_user(client, services):
    token = await login(client, "admin")
    bad = await client.post("/api/admin/users", json={"username": "Bad Name", "role": "pilot", "password": "short",
                                                      "interface": "PJSIP/x y", "display_name": "Siti"},
                            headers=h(token))
    assert bad.status == 422
    body = await bad.json()
    assert set(body["errors"]) == {"username", "role", "password", "interface"}
    assert body["values"]["username"] == "Bad Name" and body["values"]["display_name"] == "Siti"
    assert body["values"]["password"] == ""
    taken = await client.post("/api/admin/users", json={"username": "op1", "role": "operator",
                                                        "interface": "PJSIP/op99", "password": "long-enough-1"},
                              headers=h(token))
    assert taken.status == 422 and (await taken.json())["errors"]["username"] == "'op1' sudah ada"
    added = await client.post("/api/admin/users", json={"username": "bpbd1", "role": "agency",
                                                        "password": "bpbd1-demo-112", "agency": "bpbd"},
                              headers=h(token))
    assert added.status == 201, await added.text()
    user = (await added.json())["user"]
    assert (user["role"], user["agency"], user["active"]) == ("agency", "bpbd", True)
    assert (await agency_of(services.sessions, user["id"])).code == "bpbd"


async def test_change_role_interface_and_deactivate(client, other_client, services):
    token = await login(client, "admin")
    users = {u["username"]: u for u in (await (await client.get("/api/admin/users")).json())["users"]}
    op2 = users["op2"]["id"]
    taken = await client.post(f"/api/admin/users/{op2}", json={"interface": "PJSIP/op1"}, headers=h(token))
    assert taken.status == 422 and "sudah dipakai oleh 'op1'" in (await taken.json())["errors"]["interface"]
    bad = await client.post(f"/api/admin/users/{op2}", json={"interface": "op2\r\nAction: Originate"},
                            headers=h(token))
    assert bad.status == 422
    moved = await client.post(f"/api/admin/users/{op2}", json={"interface": "PJSIP/op7", "role": "dispatcher"},
                              headers=h(token))
    assert moved.status == 200
    assert ((await moved.json())["user"]["interface"], (await moved.json())["user"]["role"]) == \
        ("PJSIP/op7", "dispatcher")
    off = await client.post(f"/api/admin/users/{op2}", json={"active": False}, headers=h(token))
    assert off.status == 200 and (await off.json())["user"]["active"] is False
    gone = await other_client()
    tok = (await (await gone.get("/api/session")).json())["csrf_token"]
    refused = await gone.post("/api/session", json={"username": "op2", "password": "op2-demo-112"},
                              headers=h(tok))
    assert refused.status == 401
    admin_id = users["admin"]["id"]
    last = await client.post(f"/api/admin/users/{admin_id}", json={"active": False}, headers=h(token))
    assert last.status == 422 and "admin aktif terakhir" in (await last.json())["errors"]["active"]
    assert (await client.post("/api/admin/users/99999", json={"active": False}, headers=h(token))).status == 404
    actions = [e.action for e in await admin_log(services.sessions, users_admin(users))]
    assert {"interface_changed", "role_changed", "deactivated"} <= set(actions)


def users_admin(users):
    from ngcc112.tickets.models import User

    admin = users["admin"]
    return User(id=admin["id"], username="admin", role="admin", password_hash="", active=True)


async def test_agencies_add_edit_deactivate(client, services):
    token = await login(client, "admin")
    bad = await client.post("/api/admin/agencies", json={"code": "Bad Code", "name": "", "kind": "NGO"},
                            headers=h(token))
    assert bad.status == 422
    body = await bad.json()
    assert set(body["errors"]) == {"code", "name", "kind"} and body["values"]["code"] == "Bad Code"
    dup = await client.post("/api/admin/agencies", json={"code": "damkar", "name": "Damkar 2", "kind": "OPD"},
                            headers=h(token))
    assert dup.status == 422 and (await dup.json())["errors"]["code"] == "'damkar' sudah ada"
    added = await client.post("/api/admin/agencies", json={"code": "tagana", "name": "Tagana", "kind": "Instansi"},
                              headers=h(token))
    assert added.status == 201
    off = await client.post("/api/admin/agencies/tagana", json={"active": False, "name": "Tagana Jabar"},
                            headers=h(token))
    assert off.status == 200
    assert (await off.json())["agency"] == {"code": "tagana", "name": "Tagana Jabar", "kind": "Instansi",
                                            "active": False}
    assert (await client.post("/api/admin/agencies/nope", json={"active": False}, headers=h(token))).status == 404
    listing = (await (await client.get("/api/admin/agencies")).json())["agencies"]
    assert {"code": "tagana", "name": "Tagana Jabar", "kind": "Instansi", "active": False} in listing


async def test_admin_forms_keep_what_was_typed(client, services):
    await login(client, "admin")
    html = await (await client.get("/admin/users")).text()
    token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    response = await client.post("/admin/users", data={"csrf_token": token, "username": "x", "display_name": "Rina",
                                                       "role": "operator", "password": "pw", "interface": ""})
    assert redirected_back(response, "/admin/users")
    html = await response.text()
    assert 'value="Rina"' in html and 'value="x"' in html
    assert "Minimal 8 karakter" in html and "2-40 karakter" in html
    response = await client.post("/admin/users", data={"csrf_token": token, "username": "rina", "display_name": "Rina",
                                                       "role": "operator", "password": "rina-demo-112",
                                                       "interface": "PJSIP/op4"}, allow_redirects=False)
    assert response.status == 303
    html = await (await client.get("/admin/users")).text()
    assert "Pengguna ditambahkan" in html and 'data-username="rina"' in html
    user_id = re.search(r'<tr id="user-(\d+)" data-username="rina"', html).group(1)
    response = await client.post(f"/admin/users/{user_id}", data={"csrf_token": token, "role": "operator",
                                                                  "interface": "PJSIP/op1", "agency": "",
                                                                  "active": "on"})
    assert redirected_back(response, "/admin/users")
    assert "PJSIP/op1 sudah dipakai oleh &#39;op1&#39;" in await response.text()
    html = await (await client.get("/admin/agencies")).text()
    response = await client.post("/admin/agencies", data={"csrf_token": token, "code": "9x", "name": "Tim SAR",
                                                          "kind": "OPD"})
    assert redirected_back(response, "/admin/agencies")
    html = await response.text()
    assert 'value="9x"' in html and 'value="Tim SAR"' in html and "2-32 karakter" in html
    response = await client.post("/admin/agencies/damkar", data={"csrf_token": token, "name": "Damkar Kota",
                                                                 "kind": "OPD"}, allow_redirects=False)
    assert response.status == 303
    html = await (await client.get("/admin/agencies")).text()
    assert 'value="Damkar Kota"' in html and "Instansi diperbarui" in html
