"""The log sweep itself (tests/log_secrets.py) finds what it must and nothing else."""

from __future__ import annotations

import io
import json
import logging

import log_secrets
import structlog

from ngcc112.logs import configure


def test_a_secret_in_a_line_is_found_and_masked_in_the_report():
    found = log_secrets.findings_in('{"event": "ami.login", "detail": "Secret: ngcc-secret"}', "t")
    assert len(found) == 1 and "ngcc-secret" not in found[0].line and "«" in found[0].line


def test_the_demo_table_may_show_demo_passwords_but_a_log_line_may_not():
    assert log_secrets.findings_in("  op1          op1-demo-112     operator", "demo") == []
    assert log_secrets.findings_in('{"event": "login", "tried": "op1-demo-112"}', "log")


def test_a_key_naming_a_secret_is_masked_by_the_log_setup_whatever_logged_it():
    saved, handlers, level = structlog.get_config(), logging.root.handlers[:], logging.root.level
    stream = io.StringIO()
    try:
        configure("json", "debug", stream=stream)
        structlog.get_logger("t").warning("ami.config", ami_secret="ngcc-secret", password="correct horse",
                                          metrics_token="a-long-metrics-token-0123456789")
    finally:
        structlog.configure(**saved)
        logging.root.handlers[:], logging.root.level = handlers, level
    line = json.loads(stream.getvalue().strip().splitlines()[-1])
    assert line["ami_secret"] == line["password"] == line["metrics_token"] == "***"
