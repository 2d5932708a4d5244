"""Post/redirect/get on the dispatcher's forms: a refused form answers 303 to its GET page, which
shows the errors (once) with what was typed; reloading that page is a GET, never a 405."""

from __future__ import annotations

import re

from dispatch_helpers import login, make_ticket

from ngcc112.panel.form_memory import FORM, FormMemory


async def _token(client, path: str) -> str:
    html = await (await client.get(path)).text()
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def _summary(html: str) -> str:
    start = html.index('id="error-summary"')
    return html[start:html.index("</div>", start)]


async def test_close_without_a_reason_redirects_to_the_ticket_page_with_the_error_on_top(client, services):
    ticket = await make_ticket(services, state="dispatched")
    await login(client, "dispatcher")
    page = f"/dispatch/tickets/{ticket}"
    token = await _token(client, page)
    response = await client.post(f"{page}/close", data={"csrf_token": token, "override_reason": "  "},
                                 allow_redirects=False)
    assert response.status == 303 and response.headers["Location"] == page
    shown = await client.get(response.headers["Location"])
    assert shown.status == 200
    html = await shown.text()
    summary = _summary(html)
    assert 'tabindex="-1"' in summary and 'role="alert"' in summary
    assert '<a href="#override_reason">Tulis alasan menutup sebelum semua instansi melapor</a>' in summary
    assert 'aria-invalid="true" aria-describedby="override_reason-error"' in html
    # a reload (Enter in the address bar, or the live refresh) is a GET of the same page: 200, clean
    again = await client.get(page)
    assert again.status == 200 and 'id="error-summary"' not in await again.text()
    assert (await client.get(f"{page}/close")).status == 405  # the POST URL is never where the page is left


async def test_dispatch_errors_keep_the_ticked_agencies_and_the_instructions(client, services):
    ticket = await make_ticket(services)
    await login(client, "dispatcher")
    page = f"/dispatch/tickets/{ticket}"
    token = await _token(client, page)
    response = await client.post(f"{page}/dispatch", data=[("csrf_token", token), ("agencies", "damkar"),
                                                           ("instructions", "x" * 5000)], allow_redirects=False)
    assert response.status == 303 and response.headers["Location"] == page
    html = await (await client.get(page)).text()
    assert '<a href="#instructions">Terlalu panjang</a>' in _summary(html)
    assert 'value="damkar" id="agency-damkar" checked' in html
    assert ">" + "x" * 5000 + "</textarea>" in html


async def test_a_refusal_by_the_state_table_is_summarised_without_a_field(client, services):
    ticket = await make_ticket(services, state="new", verdict=None)
    await login(client, "dispatcher")
    page = f"/dispatch/tickets/{ticket}"
    token = await _token(client, "/dispatch")
    response = await client.post(f"{page}/dispatch", data={"csrf_token": token, "agencies": "damkar"},
                                 allow_redirects=False)
    assert response.status == 303 and response.headers["Location"] == page
    summary = _summary(await (await client.get(page)).text())
    assert "<li>Tindakan ini tidak bisa dilakukan untuk tiket ini sekarang: a ticket in state" in summary


async def test_the_memory_is_per_login_session(client, other_client, services):
    ticket = await make_ticket(services, state="dispatched")
    await login(client, "dispatcher")
    other = await other_client()
    await login(other, "dispatcher")
    page = f"/dispatch/tickets/{ticket}"
    token = await _token(client, page)
    await client.post(f"{page}/close", data={"csrf_token": token, "override_reason": ""}, allow_redirects=False)
    assert 'id="error-summary"' not in await (await other.get(page)).text()
    assert 'id="error-summary"' in await (await client.get(page)).text()


async def test_a_callback_refused_on_the_ticket_page_redirects_back_with_the_reason(client, services, link):
    ticket = await make_ticket(services, state="new", verdict=None, abandoned=True)
    await login(client, "dispatcher2")
    page = f"/dispatch/tickets/{ticket}"
    token = await _token(client, page)
    link.connected_ = False
    response = await client.post(f"{page}/callback", data={"csrf_token": token, "click_id": "c-1"},
                                 allow_redirects=False)
    assert response.status == 303 and response.headers["Location"] == page
    assert "Asterisk tidak terhubung" in _summary(await (await client.get(page)).text())


def test_form_memory_is_bounded_expires_and_is_read_once():
    now = [0.0]
    memory = FormMemory(keep=10.0, max_entries=2, clock=lambda: now[0])
    memory.put("s1", "a", {"x": "1"}, {"x": "bad"})
    kept = memory.take("s1", "a")
    assert kept is not None and kept.values == {"x": "1"} and kept.errors == {"x": "bad"}
    assert memory.take("s1", "a") is None  # once
    memory.put("s1", "a", {}, {FORM: "no"})
    assert memory.take("s2", "a") is None  # another session sees nothing
    now[0] = 11.0
    assert memory.take("s1", "a") is None  # expired
    for key in ("a", "b", "c"):
        memory.put("s1", key, {}, {})
    assert len(memory) == 2 and memory.take("s1", "a") is None  # the oldest went first
    memory.forget_session("s1")
    assert len(memory) == 0


async def test_an_operators_refused_callback_goes_back_to_the_callbacks_page(client, services, link):
    ticket = await make_ticket(services, state="new", verdict=None, abandoned=True)
    await login(client, "op1")
    token = await _token(client, "/callbacks")
    link.connected_ = False
    response = await client.post(f"/dispatch/tickets/{ticket}/callback",
                                 data={"csrf_token": token, "click_id": "c-2", "back": "callbacks"},
                                 allow_redirects=False)
    assert response.status == 303 and response.headers["Location"] == "/callbacks"
    assert "Asterisk tidak terhubung" in _summary(await (await client.get("/callbacks")).text())
    assert 'id="error-summary"' not in await (await client.get("/callbacks")).text()
