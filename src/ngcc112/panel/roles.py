"""The panel's roles as the strings requests and accounts carry."""

from __future__ import annotations

from ngcc112.tickets.states import Role

OPERATOR = Role.OPERATOR.value
DISPATCHER = Role.DISPATCHER.value
AGENCY = Role.AGENCY.value
ADMIN = Role.ADMIN.value
