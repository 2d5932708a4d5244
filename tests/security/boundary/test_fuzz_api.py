"""Property-based fuzzing of the JSON API from its own description (``/api/openapi.json``).

Every operation the served document describes is fuzzed with schemathesis, logged in as each
role (with the session's CSRF token), in both of schemathesis' modes: data the schema allows
and data it does not. Whatever is sent, the answer is never a 5xx (the stand-in for Asterisk
always answers), its status is one the document lists for the operation, its content type and
body match the document, and data the schema forbids is refused with a 4xx. Hypothesis leaves
lone surrogates out of its text, so one more test sends each operation that takes a body a key
no column can hold: every handler must read its body through the boundary (a 422).

Short and reproducible on purpose (it runs in CI): few examples per operation, derandomized,
no shrinking (the failure report carries the request as a curl command). ``FUZZ_SCALE=20``
multiplies the budget for a long run on a workstation.
"""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import Callable

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from ngcc112.panel.auth import roles_of

from .test_fuzz_support import ACCOUNTS, CSRF_HEADER, LivePanel

#: Examples per operation: short for CI; ``FUZZ_SCALE=20`` for a long run on a workstation.
EXAMPLES = 6 * int(os.environ.get("FUZZ_SCALE", "1"))
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance,
          negative_data_rejection]
#: Ids the seeded database has (tickets 1-4, dispatch 1, users 1-6, fix 1).
SEEDED_IDS = (1, 2, 3, 4)
#: Operations that end the session: fuzzed last, after everything else ran logged in.
LAST = frozenset({"DELETE /api/session"})


def permitted(panel: LivePanel, role: str) -> set[str]:
    """The operations (``METHOD /path/{param}``) whose handler lets ``role`` in."""
    labels = set()
    for resource in panel.server.app.router.resources():
        for route in resource:
            roles = set(roles_of(route.handler))
            if route.method != "HEAD" and (not roles or role in roles):
                labels.add(f"{route.method} {resource.canonical}")
    return labels


def fuzz_operations(panel: LivePanel, role: str, wanted: Callable[[str], bool] = lambda label: True,
                    examples: int = EXAMPLES) -> list[str]:
    """Fuzz every described operation ``wanted`` keeps, logged in as ``role``; the failures, as
    reports. What the role may not do is only tried twice (a documented 403, never a 500)."""
    http, token = panel.login(role)
    document = http.get(f"{panel.base_url}/api/openapi.json", timeout=30).json()
    schema = schemathesis.openapi.from_dict(document)
    allowed = permitted(panel, role)
    operations = sorted((result.ok() for result in schema.get_all_operations()),
                        key=lambda op: (op.label in LAST, op.label))
    failures: list[str] = []
    for operation in operations:
        if not wanted(operation.label):
            continue
        deep = operation.label in allowed
        modes = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE) if deep else (GenerationMode.POSITIVE,)
        for mode in modes:
            strategy = operation.as_strategy(generation_mode=mode, headers={CSRF_HEADER: token})
            ids = "_id}" in operation.path and mode is GenerationMode.POSITIVE
            seeds = st.sampled_from((None, *SEEDED_IDS)) if ids else st.none()

            @settings(max_examples=examples if deep else 2, deadline=None, derandomize=True, database=None,
                      phases=(Phase.explicit, Phase.generate), report_multiple_bugs=False,
                      suppress_health_check=list(HealthCheck))
            @given(case=strategy, seeded=seeds)
            def check(case: schemathesis.Case, seeded: int | None) -> None:
                if seeded is not None:
                    # mostly an id that names a row: past the 404, into the use case
                    case.path_parameters = {key: seeded if key.endswith("_id") else value
                                            for key, value in case.path_parameters.items()}
                response = case.call(base_url=panel.base_url, session=http, timeout=30)
                case.validate_response(response, checks=CHECKS)

            try:
                check()
            except Unsatisfiable:  # nothing to make invalid: no parameters, no body
                continue
            except (Exception, BaseExceptionGroup) as exc:  # one report per operation and mode; go on
                failures.append(f"[{role}] {operation.label} ({mode.value}): {exc}")
    return failures


@pytest.mark.parametrize("role", list(ACCOUNTS))
async def test_the_api_never_answers_500_whatever_it_is_sent(role, panel):
    failures = await asyncio.to_thread(fuzz_operations, panel, role)
    assert not failures, "\n\n".join(failures)


def smuggle_a_surrogate(panel: LivePanel) -> list[str]:
    """Send every operation that takes a JSON body one whose key is a lone surrogate, as a role that
    may call it; what does not answer 422 naming ``body`` read its body around the boundary."""
    missed, tried = [], set()
    for role in ACCOUNTS:
        http, token = panel.login(role)
        document = http.get(f"{panel.base_url}/api/openapi.json", timeout=30).json()
        allowed = permitted(panel, role)
        for path, operations in document["paths"].items():
            for method, operation in operations.items():
                label = f"{method.upper()} {path}"
                if "requestBody" not in operation or label not in allowed or label in LAST | tried:
                    continue
                tried.add(label)
                url = panel.base_url + re.sub(r"\{[a-z_]+_id\}", "1", path).replace("{code}", "damkar")
                answer = http.request(method, url, data='{"\\ud800": "x"}', timeout=30,
                                      headers={CSRF_HEADER: token, "Content-Type": "application/json"})
                if answer.status_code != 422 or '"body"' not in answer.text:
                    missed.append(f"[{role}] {label}: {answer.status_code} {answer.text[:200]}")
    return missed


async def test_every_json_body_is_read_through_the_boundary(panel):
    missed = await asyncio.to_thread(smuggle_a_surrogate, panel)
    assert not missed, "read these bodies with ngcc112.panel.bodies.read_json:\n" + "\n".join(missed)


@pytest.mark.postgres
@pytest.mark.parametrize("panel_backend", ["postgresql"], indirect=True)
async def test_ids_and_days_on_postgresql_never_answer_500(panel):
    """asyncpg refuses a parameter beyond its column's type with its own error, which SQLite never
    raises: the operations taking an id or a day, fuzzed once more on PostgreSQL."""
    failures = await asyncio.to_thread(fuzz_operations, panel, "dispatcher",
                                       lambda label: "_id}" in label or "/reports" in label, 4)
    assert not failures, "\n\n".join(failures)
