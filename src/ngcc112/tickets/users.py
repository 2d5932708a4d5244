"""Panel users: create, authenticate, change a password, seed the demo accounts.

Passwords are stored as argon2id hashes (argon2-cffi, made off the event loop by
:mod:`ngcc112.tickets.passwords`); the clear password never leaves these two
modules. Every value is checked before it is written, and a refusal names the
field and says why (:class:`UserError`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ngcc112 import names
from ngcc112.tickets.dispatch_models import AdminLogEntry, Agency, AgencyMember
from ngcc112.tickets.models import User, utcnow
from ngcc112.tickets.panel_sessions import end_user_sessions
from ngcc112.tickets.passwords import PASSWORD_WORK, PasswordWork, hash_password, needs_rehash, verify_password
from ngcc112.tickets.states import Role

#: Roles a person can have (``system`` is the daemon itself, never a login).
USER_ROLES: tuple[str, ...] = (Role.OPERATOR.value, Role.DISPATCHER.value, Role.AGENCY.value, Role.ADMIN.value)
#: Anchored with ``\Z`` and matched whole: ``$`` would let a trailing newline through.
USERNAME_PATTERN = re.compile(r"^[a-z][a-z0-9._-]{1,39}\Z")
#: A queue member interface: technology/resource, e.g. ``PJSIP/op1``.
INTERFACE_PATTERN = re.compile(r"^(PJSIP|SIP|IAX2|Local)/[A-Za-z0-9][A-Za-z0-9._@-]{0,100}\Z")
MIN_PASSWORD = 8
MAX_PASSWORD = 1024


class UserError(ValueError):
    """A user cannot be created as asked; ``field`` names the culprit.

    ``msgid`` (with ``{name}`` placeholders filled from ``params``) is the message for
    translation: the panel translates ``msgid`` first, then formats it, so a name in the
    message never keeps it from being translated. ``message`` is the English text.
    """

    def __init__(
        self, field: str, message: str, *, msgid: str | None = None, params: dict[str, object] | None = None
    ) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message
        self.msgid = msgid
        self.params = dict(params or {})

    def translated(self, translate: Callable[[str], str]) -> str:
        """The message in the language of ``translate`` (a gettext function)."""
        if self.msgid is None:
            return self.message
        return translate(self.msgid).format(**self.params)


def check_account_links(role: str, interface: str | None, agency: str | None) -> None:
    """An agency user needs an agency, an operator a softphone interface (:class:`UserError`).

    The rule for creating and changing accounts, kept by the data layer (:func:`add_user`,
    :mod:`ngcc112.tickets.agencies`), so the admin page and the command line refuse alike (the
    screen pop finds an operator by their interface; an agency user without an agency sees nothing).
    """
    check_agency_link(role, agency)
    check_operator_interface(role, interface)


def check_agency_link(role: str, agency: str | None) -> None:
    """An agency user needs an agency (:class:`UserError` on ``agency``)."""
    if role == Role.AGENCY.value and not agency:
        raise UserError("agency", "an agency user needs an agency", msgid="An agency user needs an agency")


def check_operator_interface(role: str, interface: str | None) -> None:
    """An operator needs a softphone interface (:class:`UserError` on ``interface``)."""
    if role == Role.OPERATOR.value and not interface:
        raise UserError(
            "interface",
            "an operator needs a softphone interface",
            msgid="An operator needs a softphone interface like PJSIP/op1",
        )


def _check_password(password: str) -> None:
    if len(password or "") < MIN_PASSWORD:
        raise UserError("password", f"must be at least {MIN_PASSWORD} characters", msgid="At least 8 characters")
    if len(password) > MAX_PASSWORD:
        raise UserError("password", f"must be at most {MAX_PASSWORD} characters")


def _validate(username: str, role: str, password: str, display_name: str, interface: str | None) -> None:
    if role not in USER_ROLES:
        raise UserError("role", f"unknown role {role!r}; choose one of {', '.join(USER_ROLES)}")
    if not USERNAME_PATTERN.fullmatch(username or ""):
        raise UserError(
            "username", "2-40 characters: lower-case letters, digits, '.', '_' or '-', starting with a letter"
        )
    _check_password(password)
    if len(display_name) > 160 or any(c in display_name for c in "\r\n\x00"):
        raise UserError("display_name", "at most 160 characters, on one line")
    if interface is not None and not INTERFACE_PATTERN.fullmatch(interface):
        raise UserError("interface", f"{interface!r} is not a queue member interface like PJSIP/op1")


async def add_user(
    sessions: async_sessionmaker[AsyncSession],
    *,
    username: str,
    role: str,
    password: str,
    display_name: str = "",
    interface: str | None = None,
    agency: str | None = None,
) -> User:
    """Create a user; :class:`UserError` when a value is invalid or already taken.

    An agency user is created in their agency (``agency``: its code) in the same transaction;
    an operator needs their softphone ``interface`` (:func:`check_account_links`): the panel's
    admin page and ``ngcc112 user add`` are refused alike.
    """
    interface = interface or None
    agency = agency or None
    _validate(username, role, password, display_name, interface)
    if agency is not None and role != Role.AGENCY.value:
        raise UserError(
            "agency",
            f"{username!r} is {role}; only agency users belong to an agency",
            msgid="Only agency users belong to an agency",
        )
    password_hash = await PASSWORD_WORK.run(hash_password, password)
    async with sessions.begin() as session:
        if await session.scalar(select(func.count()).select_from(User).where(User.username == username)):
            raise UserError(
                "username",
                f"{username!r} already exists",
                msgid="'{username}' already exists",
                params={"username": username},
            )
        if interface is not None:
            holder = await session.scalar(select(User.username).where(User.interface == interface))
            if holder is not None:
                raise UserError(
                    "interface",
                    f"{interface} already belongs to {holder!r}",
                    msgid="{interface} already belongs to '{holder}'",
                    params={"interface": interface, "holder": holder},
                )
        check_account_links(role, interface, agency)
        joined = None
        if agency is not None:
            joined = await session.scalar(select(Agency).where(Agency.code == agency))
            if joined is None or not joined.active:
                raise UserError(
                    "agency", f"there is no active agency {agency!r}", msgid="Choose an agency from the list"
                )
        user = User(
            username=username,
            role=role,
            password_hash=password_hash,
            display_name=display_name or username,
            interface=interface,
            active=True,
        )
        session.add(user)
        await session.flush()
        if joined is not None:
            session.add(AgencyMember(user_id=user.id, agency_id=joined.id))
        return user


async def authenticate(
    sessions: async_sessionmaker[AsyncSession], username: str, password: str, *, work: PasswordWork | None = None
) -> User | None:
    """The active user with this username and password, or None (no hint which was wrong).

    The argon2 check runs on ``work``'s threads (:data:`PASSWORD_WORK`); when too many
    checks are waiting already it raises :class:`PasswordWorkBusy` before reading anything.
    """
    work = work or PASSWORD_WORK
    if len(password) > MAX_PASSWORD:
        password = password[: MAX_PASSWORD + 1]  # never a valid one; bounded work for the hasher
    async with sessions() as session:
        user = await session.scalar(select(User).where(User.username == username))
    # An unknown user costs one check against a dummy hash: usernames cannot be probed by timing.
    stored = _DUMMY_HASH if user is None else user.password_hash
    if not await work.run(verify_password, stored, password, refuse_when_busy=True):
        return None
    if user is None or not user.active:
        return None
    if needs_rehash(user.password_hash):
        rehashed = await work.run(hash_password, password)
        async with sessions.begin() as session:
            current = await session.get(User, user.id)
            if current is not None:
                current.password_hash = rehashed
    return user


async def change_password(
    sessions: async_sessionmaker[AsyncSession], username: str, password: str, *, actor: str
) -> int:
    """Give ``username`` a new password and end all of their panel sessions; how many ended.

    Checked like :func:`add_user` (:class:`UserError`); written with its ``admin_log`` row
    (``password_changed``, by ``actor``; never the password or its hash) in one transaction.
    The caller proves who asks (the current password on the panel; the server's shell for
    the command line) and, on the panel, starts a fresh session for the one who changed it.
    """
    _check_password(password)
    password_hash = await PASSWORD_WORK.run(hash_password, password)
    now = utcnow()
    async with sessions.begin() as session:
        user = await session.scalar(select(User).where(User.username == username))
        if user is None:
            raise UserError("username", f"there is no user {username!r}")
        user.password_hash = password_hash
        ended = await end_user_sessions(session, user.id, "password", now=now)
        session.add(
            AdminLogEntry(
                at=now,
                actor=actor[:120],
                action="password_changed",
                subject="user",
                subject_id=user.id,
                changes={"username": username, "sessions_ended": ended},
            )
        )
    return ended


async def get_user(sessions: async_sessionmaker[AsyncSession], user_id: int) -> User | None:
    async with sessions() as session:
        return await session.get(User, user_id)


async def list_users(sessions: async_sessionmaker[AsyncSession]) -> Sequence[User]:
    async with sessions() as session:
        return (await session.scalars(select(User).order_by(User.username))).all()


_DUMMY_HASH = hash_password("not-a-real-password")

#: The demo accounts: username, password, role, softphone interface.
DEMO_USERS: tuple[tuple[str, str, str, str | None], ...] = (
    *(
        (endpoint, f"{endpoint}-demo-112", Role.OPERATOR.value, names.operator_interface(endpoint))
        for endpoint in names.SAMPLE_OPERATORS
    ),
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
                session.add(
                    User(
                        username=username,
                        role=role,
                        password_hash=await PASSWORD_WORK.run(hash_password, password),
                        display_name=username,
                        interface=interface if holder is None else None,
                        active=True,
                    )
                )
            else:
                if not await PASSWORD_WORK.run(verify_password, user, password):
                    user.password_hash = await PASSWORD_WORK.run(hash_password, password)
                user.active = True
        seeded.append((username, password, role))
    return seeded


async def remember_language(sessions: async_sessionmaker[AsyncSession], user_id: int, language: str) -> None:
    """Keep the panel language ``user_id`` chose (the panel checks it is one it has)."""
    async with sessions.begin() as session:
        await session.execute(update(User).where(User.id == user_id).values(language=language))
