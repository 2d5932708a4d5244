"""Panel users: create, authenticate, seed the demo accounts.

Passwords are stored as argon2id hashes (argon2-cffi); the clear password
never leaves this module. Every value is checked before it is written, and a
refusal names the field and says why (:class:`UserError`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ngcc112 import names
from ngcc112.tickets.models import User
from ngcc112.tickets.states import Role

#: Roles a person can have (``system`` is the daemon itself, never a login).
USER_ROLES: tuple[str, ...] = (Role.OPERATOR.value, Role.DISPATCHER.value, Role.AGENCY.value,
                               Role.ADMIN.value)
USERNAME_PATTERN = re.compile(r"^[a-z][a-z0-9._-]{1,39}$")
#: A queue member interface: technology/resource, e.g. ``PJSIP/op1``.
INTERFACE_PATTERN = re.compile(r"^(PJSIP|SIP|IAX2|Local)/[A-Za-z0-9][A-Za-z0-9._@-]{0,100}$")
MIN_PASSWORD = 8
MAX_PASSWORD = 1024

_hasher = PasswordHasher()


class UserError(ValueError):
    """A user cannot be created as asked; ``field`` names the culprit."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(user: User | str, password: str) -> bool:
    """True when ``password`` matches the user's (or the given) argon2 hash."""
    stored = user if isinstance(user, str) else user.password_hash
    try:
        return _hasher.verify(stored, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def _validate(username: str, role: str, password: str, display_name: str,
              interface: str | None) -> None:
    if role not in USER_ROLES:
        raise UserError("role", f"unknown role {role!r}; choose one of {', '.join(USER_ROLES)}")
    if not USERNAME_PATTERN.match(username or ""):
        raise UserError("username", "2-40 characters: lower-case letters, digits, '.', '_' or '-', "
                                    "starting with a letter")
    if len(password or "") < MIN_PASSWORD:
        raise UserError("password", f"must be at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD:
        raise UserError("password", f"must be at most {MAX_PASSWORD} characters")
    if len(display_name) > 160 or any(c in display_name for c in "\r\n\x00"):
        raise UserError("display_name", "at most 160 characters, on one line")
    if interface is not None and not INTERFACE_PATTERN.match(interface):
        raise UserError("interface", f"{interface!r} is not a queue member interface like PJSIP/op1")


async def add_user(sessions: async_sessionmaker[AsyncSession], *, username: str, role: str,
                   password: str, display_name: str = "", interface: str | None = None) -> User:
    """Create a user; :class:`UserError` when a value is invalid or already taken."""
    interface = interface or None
    _validate(username, role, password, display_name, interface)
    async with sessions.begin() as session:
        if await session.scalar(select(func.count()).select_from(User)
                                .where(User.username == username)):
            raise UserError("username", f"{username!r} already exists")
        if interface is not None:
            holder = await session.scalar(select(User.username).where(User.interface == interface))
            if holder is not None:
                raise UserError("interface", f"{interface} already belongs to {holder!r}")
        user = User(username=username, role=role, password_hash=hash_password(password),
                    display_name=display_name or username, interface=interface, active=True)
        session.add(user)
        await session.flush()
        return user


async def authenticate(sessions: async_sessionmaker[AsyncSession], username: str,
                       password: str) -> User | None:
    """The active user with this username and password, or None (no hint which was wrong)."""
    async with sessions() as session:
        user = await session.scalar(select(User).where(User.username == username))
    if user is None:
        # Spend the same time as a real check, so usernames cannot be probed by timing.
        verify_password(_DUMMY_HASH, password)
        return None
    if not verify_password(user, password) or not user.active:
        return None
    if _hasher.check_needs_rehash(user.password_hash):
        async with sessions.begin() as session:
            stored = await session.get(User, user.id)
            if stored is not None:
                stored.password_hash = hash_password(password)
    return user


async def get_user(sessions: async_sessionmaker[AsyncSession], user_id: int) -> User | None:
    async with sessions() as session:
        return await session.get(User, user_id)


async def list_users(sessions: async_sessionmaker[AsyncSession]) -> Sequence[User]:
    async with sessions() as session:
        return (await session.scalars(select(User).order_by(User.username))).all()


_DUMMY_HASH = hash_password("not-a-real-password")

#: The demo accounts: username, password, role, softphone interface.
DEMO_USERS: tuple[tuple[str, str, str, str | None], ...] = (
    *((endpoint, f"{endpoint}-demo-112", Role.OPERATOR.value, names.operator_interface(endpoint))
      for endpoint in names.SAMPLE_OPERATORS),
    ("dispatcher", "dispatcher-demo-112", Role.DISPATCHER.value, None),
    ("agency", "agency-demo-112", Role.AGENCY.value, None),
    ("admin", "admin-demo-112", Role.ADMIN.value, None),
)


async def seed_demo_users(sessions: async_sessionmaker[AsyncSession]) -> list[tuple[str, str, str]]:
    """Make sure the demo accounts exist and accept their demo password.

    Idempotent: running it again creates nothing new; an account whose
    password was changed gets its demo password back (this is for demo
    databases only). Returns (username, password, role) for each account.
    """
    seeded: list[tuple[str, str, str]] = []
    for username, password, role, interface in DEMO_USERS:
        async with sessions.begin() as session:
            user = await session.scalar(select(User).where(User.username == username))
            if user is None:
                _validate(username, role, password, "", interface)
                holder = None
                if interface is not None:
                    holder = await session.scalar(select(User).where(User.interface == interface))
                session.add(User(username=username, role=role, password_hash=hash_password(password),
                                 display_name=username,
                                 interface=interface if holder is None else None, active=True))
            else:
                if not verify_password(user, password):
                    user.password_hash = hash_password(password)
                user.active = True
        seeded.append((username, password, role))
    return seeded
