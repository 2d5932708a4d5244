"""Users: argon2 hashes, validated values, idempotent demo seeding."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from ngcc112.tickets.models import User
from ngcc112.tickets.passwords import verify_password
from ngcc112.tickets.users import UserError, add_user, authenticate, seed_demo_users


async def test_add_user_hashes_with_argon2_and_authenticates(services):
    user = await add_user(services.sessions, username="siti", role="dispatcher",
                          password="correct horse", display_name="Siti")
    assert user.password_hash.startswith("$argon2id$")
    assert "correct horse" not in user.password_hash
    assert verify_password(user, "correct horse") and not verify_password(user, "wrong horse")
    assert (await authenticate(services.sessions, "siti", "correct horse")).id == user.id
    assert await authenticate(services.sessions, "siti", "nope") is None
    assert await authenticate(services.sessions, "nobody", "correct horse") is None


@pytest.mark.parametrize("kwargs, field", [
    ({"role": "king"}, "role"),
    ({"role": "system"}, "role"),
    ({"username": "Bad Name"}, "username"),
    ({"username": "x"}, "username"),
    ({"password": "short"}, "password"),
    ({"interface": "op4"}, "interface"),
    ({"interface": "PJSIP/op4\r\nAction: Originate"}, "interface"),
    ({"interface": "PJSIP/op1"}, "interface"),  # taken by the demo op1
    ({"username": "op1"}, "username"),  # exists
    ({"display_name": "two\nlines"}, "display_name"),
])
async def test_add_user_refuses_bad_values(services, kwargs, field):
    values = {"username": "newop", "role": "operator", "password": "long enough", **kwargs}
    with pytest.raises(UserError) as caught:
        await add_user(services.sessions, **values)
    assert caught.value.field == field


async def test_seed_demo_users_is_idempotent(services):
    first = await seed_demo_users(services.sessions)
    second = await seed_demo_users(services.sessions)
    assert first == second
    assert {role for _, _, role in first} == {"operator", "dispatcher", "agency", "admin"}
    async with services.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(User)) == len(first)
        op2 = await session.scalar(select(User).where(User.username == "op2"))
    assert op2.interface == "PJSIP/op2" and op2.role == "operator"
    for username, password, _ in first:
        assert await authenticate(services.sessions, username, password) is not None
