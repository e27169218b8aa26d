"""Schemathesis against the OpenAPI document ``kura serve`` serves (rows 21 and 27): a fixed
seed and example budget over every operation, all four phases, 0 failures.

One check is left out, for reasons the document cannot fix (docs/reliability.md, row 27):
``positive_data_acceptance`` (bodies name rows that may not exist, such as an ``assistant_id``,
which is a 422; and keys have rules between fields, such as "a publishable key holds only
sessions:create", that a schema cannot state simply). ``negative_data_rejection`` runs: it
found lax parsing (``false`` taken as a temperature and as milliseconds, ``0.5`` as a date),
now refused. The unauthenticated per-address limit is raised for this server, so that
schemathesis meets 401s rather than 429s; rate limits have their own tests (row 22).
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
EXCLUDED = "positive_data_acceptance"


def test_the_served_document_holds_against_schemathesis(tmp_path: Path) -> None:
    database = sqlite_url(tmp_path / "kura.db")
    made = run_kura(
        "keys", "create", "--name", "schemathesis", "--rate-limit", "100000",
        database_url=database, cwd=tmp_path,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    key = made.stdout.splitlines()[-1]
    limits = {"KURA_DEFAULT_RATE_LIMIT_PER_MINUTE": "100000", "KURA_TTS_COMMAND": "off"}
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
            env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300, check=False,
        )  # fmt: skip
    summary = outcome.stdout[-3000:]
    print(summary)
    assert outcome.returncode == 0, summary
