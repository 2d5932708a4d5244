"""The panel language is the person's, not the browser's (issue 12, item 7).

An operator who switched to English at one desk finds English at the next one they log
in at; someone else on the first browser gets their own choice (or the center's default).
"""

from __future__ import annotations

import re

from panel_helpers import login


async def _switch(client, language: str) -> None:
    html = await (await client.get("/")).text()
    token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    response = await client.post("/lang", data={"language": language, "next": "/", "csrf_token": token},
                                 allow_redirects=False)
    assert response.status == 303


async def _lang_attribute(client) -> str:
    return re.search(r'<html lang="(\w+)"', await (await client.get("/")).text()).group(1)


async def test_a_chosen_language_follows_the_operator_to_another_desk(client, other_client):
    await login(client, "op1")
    assert await _lang_attribute(client) == "id"  # the center's default
    await _switch(client, "en")
    assert await _lang_attribute(client) == "en"
    desk = await other_client()
    await login(desk, "op1")
    assert await _lang_attribute(desk) == "en"


async def test_the_api_choice_is_remembered_too_and_others_keep_their_own(client, other_client):
    token = await login(client, "op2")
    response = await client.post("/api/me/language", json={"language": "en"}, headers={"X-CSRF-Token": token})
    assert response.status == 200
    desk = await other_client()
    await login(desk, "op2")
    assert await _lang_attribute(desk) == "en"
    colleague = await other_client()
    await login(colleague, "op3")
    assert await _lang_attribute(colleague) == "id"


async def test_the_not_found_and_not_allowed_pages_speak_the_persons_language(client):
    missing = await client.get("/no-such-page")
    assert missing.status == 404
    page = await missing.text()
    assert '<html lang="id">' in page and "Tidak ditemukan" in page and "Terjadi kesalahan" in page
    await login(client, "op1")
    await _switch(client, "en")
    missing = await client.get("/no-such-page")
    assert "Not found" in await missing.text()
    wrong_method = await client.get("/logout")
    assert wrong_method.status == 405 and "This method is not allowed here" in await wrong_method.text()
