"""Schemathesis against the OpenAPI document ``kura serve`` serves (rows 21 and 27): a fixed
seed and example budget over every operation, all four phases, every check, 0 failures.

Positive data acceptance runs as the hooks' ``positive_data_acceptance_with_state``
(``schemathesis_hooks.py``), in place of the built-in: the same judgement, except for a 422
naming only fields whose validity depends on stored rows (an ``assistant_id`` naming no
assistant, what that assistant's provider can honour, a ``from`` not routed to Kura) or on a
rule JSON Schema cannot state, listed there per operation. Every rule the schema can state is
in the document (docs/reliability.md, row 27). ``negative_data_rejection`` sends extra
properties to every body (row 21: ``additionalProperties: false``); it found lax parsing
(``false`` taken as a temperature and as milliseconds, ``0.5`` as a date), now refused. The
unauthenticated per-address limit is raised for this server, so that schemathesis meets 401s
rather than 429s; rate limits have their own tests (row 22).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.kura_process import ROOT, kura_serve, run_kura, sqlite_url

pytestmark = pytest.mark.slow

SEED = "20261203"
MAX_EXAMPLES = "20"  # per operation and phase: about 1,600 requests, under a minute
CONFIG = Path(__file__).with_name("schemathesis.toml")
EXCLUDED = "positive_data_acceptance"  # replaced by the hooks' positive_data_acceptance_with_state


def test_the_served_document_holds_against_schemathesis(tmp_path: Path) -> None:
    database = sqlite_url(tmp_path / "kura.db")
    made = run_kura(
        "keys", "create", "--name", "schemathesis", "--rate-limit", "100000",
        database_url=database, cwd=tmp_path,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    key = made.stdout.splitlines()[-1]
    limits = {"KURA_DEFAULT_RATE_LIMIT_PER_MINUTE": "100000", "KURA_TTS_COMMAND": "off",
              # A policy of this deployment, not of the document: any possible number may be
              # called, so a valid `to` is never refused as premium-rate.
              "KURA_OUTBOUND_ALLOW_PREMIUM": "true"}  # fmt: skip
    with kura_serve(tmp_path, database, **limits) as server:
        env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "SCHEMATHESIS_HOOKS": "tests.reliability.schemathesis_hooks",
        }
        outcome = subprocess.run(
            [sys.executable, "-m", "schemathesis.cli", "--config-file", str(CONFIG), "run",
             server.url + "/api/v1/openapi.json", "-H", f"Authorization: Bearer {key}",
             "--seed", SEED, "--max-examples", MAX_EXAMPLES, "--exclude-checks", EXCLUDED,
             "--no-color"],
            env=env, cwd=tmp_path, capture_output=True, text=True, timeout=600, check=False,
        )  # fmt: skip
    summary = outcome.stdout if outcome.returncode else outcome.stdout[-3000:]  # failures whole
    print(summary)
    assert outcome.returncode == 0, summary
