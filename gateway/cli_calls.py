"""``kura calls create|list|show|hangup``: outbound calls from the command line.

These go through a running gateway's REST API (``--gateway``, default the configured public
URL; the key from ``--api-key`` or ``KURA_API_KEY``), so the call is placed, counted against
the concurrent-call limits and tracked by the gateway that serves it, exactly as over REST.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import uuid
from collections.abc import Callable, Coroutine
from typing import Any

import aiohttp

from config import Settings

Command = Callable[[argparse.Namespace, Settings], Coroutine[Any, Any, int]]
TIMEOUT_S = 30.0


def _body(args: argparse.Namespace) -> dict[str, Any]:
    body: dict[str, Any] = {"assistant_id": args.assistant, "to": args.to, "from": args.from_,
                            "machine_detection": args.machine_detection}  # fmt: skip
    for name in ("voicemail_message", "max_duration_s", "greeting", "instructions"):
        if getattr(args, name) is not None:
            body[name] = getattr(args, name)
    return body


def _request(args: argparse.Namespace) -> tuple[str, str, dict[str, Any]]:
    """Method, path and request options of the action."""
    if args.action == "create":
        key = args.idempotency_key or str(uuid.uuid4())  # a retried command never dials twice
        return "POST", "/api/v1/calls", {"json": _body(args), "headers": {"Idempotency-Key": key}}
    if args.action == "list":
        query = {name: value for name in ("status", "direction", "number")
                 if (value := getattr(args, name)) is not None}  # fmt: skip
        return "GET", "/api/v1/calls", {"params": {**query, "limit": str(args.limit)}}
    method = "DELETE" if args.action == "hangup" else "GET"
    return method, f"/api/v1/calls/{args.id}", {}


def _print(action: str, data: dict[str, Any]) -> None:
    if action != "list":
        print(json.dumps(data, indent=2))
        return
    for call in data["data"]:
        print(f"{call['id']}\t{call['direction']}\t{call['status']}\t{call['from'] or '-'}"
              f"\t{call['to']}\t{call['end_reason'] or '-'}\t{call['created_at']}")  # fmt: skip


async def _calls(args: argparse.Namespace, settings: Settings) -> int:
    key = args.api_key or os.environ.get("KURA_API_KEY")
    if not key:
        print("kura calls: give --api-key or set KURA_API_KEY", file=sys.stderr)
        return 2
    base = (args.gateway or settings.effective_public_url).rstrip("/")
    method, path, options = _request(args)
    headers = {"Authorization": f"Bearer {key}", **options.pop("headers", {})}
    timeout = aiohttp.ClientTimeout(total=TIMEOUT_S)
    async with (
        aiohttp.ClientSession(timeout=timeout) as http,
        http.request(method, base + path, headers=headers, **options) as response,
    ):
        data = await response.json(content_type=None)
    if response.status >= 400:
        error = data.get("error", {}) if isinstance(data, dict) else {}
        print(f"kura calls: {response.status} {error.get('message', data)}", file=sys.stderr)
        return 1
    _print(args.action, data)
    return 0


def _positive_int(text: str) -> int:
    if not text.isdigit() or int(text) < 1 or len(text) > 18:
        raise argparse.ArgumentTypeError(f"expected a positive id, got {text!r}")
    return int(text)


def add_parsers(sub: Any) -> None:
    """Add ``calls`` to the ``kura`` parser."""
    calls = sub.add_parser("calls", help="place, list, show and hang up calls (over REST)")
    calls.add_argument("--gateway", help="the gateway's URL (default: KURA_PUBLIC_URL)")
    calls.add_argument("--api-key", help="a key with calls:* (default: $KURA_API_KEY)")
    actions = calls.add_subparsers(dest="action", required=True)
    create = actions.add_parser("create", help="place an outbound call")
    create.add_argument("--assistant", type=_positive_int, required=True, help="assistant id")
    create.add_argument("--to", required=True, help="E.164 number to call")
    create.add_argument("--from", dest="from_", required=True, help="a number routed to Kura")
    create.add_argument("--machine-detection", default="off",
                        choices=("off", "detect", "leave_message"))  # fmt: skip
    create.add_argument("--voicemail-message", help="said once after the beep (leave_message)")
    create.add_argument("--max-duration", dest="max_duration_s", type=_positive_int)
    create.add_argument("--greeting", help="replaces the assistant's greeting")
    create.add_argument("--instructions", help="replaces the assistant's instructions")
    create.add_argument("--idempotency-key", help="default: a fresh one per command")
    listing = actions.add_parser("list", help="list calls, newest first")
    listing.add_argument("--status")
    listing.add_argument("--direction", choices=("inbound", "outbound"))
    listing.add_argument("--number", help="either party")
    listing.add_argument("--limit", type=_positive_int, default=20)
    for name, text in (("show", "a call, as JSON"), ("hangup", "hang up a call")):
        action = actions.add_parser(name, help=text)
        action.add_argument("id", type=_positive_int, help="the call's id")


COMMANDS: dict[str, Command] = {"calls": _calls}
