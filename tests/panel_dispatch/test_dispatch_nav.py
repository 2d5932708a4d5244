"""Every page has the sections its user's role may use; the current one is marked."""

from __future__ import annotations

import re

import pytest
from dispatch_helpers import login

NAV = re.compile(r'<nav class="topnav" id="topnav" aria-label="([^"]+)">(.*?)</nav>', re.DOTALL)
LINK = re.compile(r'<a href="([^"]+)"( aria-current="page")?>([^<]+)</a>')

EXPECTED = {
    "op1": ["/", "/board", "/callbacks"],
    "dispatcher": ["/dispatch", "/dispatch/tickets", "/callbacks", "/reports", "/board"],
    "agency": ["/agency"],
    "admin": ["/admin/users", "/admin/agencies", "/reports"],
}
#: (user, the page opened, the link marked current)
VISITS = [("op1", "/", "/"), ("op1", "/board", "/board"), ("op1", "/callbacks", "/callbacks"),
          ("dispatcher", "/dispatch", "/dispatch"), ("dispatcher", "/callbacks", "/callbacks"),
          ("dispatcher", "/reports", "/reports"), ("dispatcher", "/board", "/board"),
          ("agency", "/agency", "/agency"), ("admin", "/admin/users", "/admin/users"),
          ("admin", "/admin/agencies", "/admin/agencies"), ("admin", "/reports", "/reports"),
          ("dispatcher", "/account/password", None)]


def nav_of(html: str) -> tuple[str, list[tuple[str, bool, str]]]:
    found = NAV.search(html)
    assert found, "no navigation on the page"
    return found.group(1), [(href, bool(current), label) for href, current, label in LINK.findall(found.group(2))]


@pytest.mark.parametrize(("username", "path", "current"), VISITS)
async def test_each_role_has_its_links_and_the_current_page_is_marked(client, username, path, current):
    await login(client, username)
    response = await client.get(path)
    assert response.status == 200, path
    label, links = nav_of(await response.text())
    assert label == "Bagian"
    assert [href for href, _c, _l in links] == EXPECTED[username]
    assert [href for href, marked, _l in links if marked] == ([current] if current else [])
    # every link but the tickets search (another branch) opens for this role
    for href, _marked, _label in links:
        if href != "/dispatch/tickets":
            assert (await client.get(href)).status == 200, href


async def test_the_links_speak_the_page_language(client):
    token = await login(client, "dispatcher")
    _label, links = nav_of(await (await client.get("/dispatch")).text())
    assert [label for *_x, label in links] == ["Papan dispatcher", "Tiket", "Telepon balik", "Laporan",
                                               "Tiket terbaru"]
    await client.post("/lang", data={"csrf_token": token, "language": "en", "next": "/dispatch"})
    label, links = nav_of(await (await client.get("/dispatch")).text())
    assert label == "Sections"
    assert [label for *_x, label in links] == ["Dispatcher board", "Tickets", "Callbacks", "Reports",
                                               "Recent tickets"]


async def test_no_navigation_before_logging_in(client):
    assert 'id="topnav"' not in await (await client.get("/login")).text()
