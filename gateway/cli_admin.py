"""``kura numbers …`` and ``kura contacts …``: phone routing and callers from the command line.

Bad input prints one clear line on stderr and exits non-zero; it never shows a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Coroutine
from typing import Any

from config import Settings
from gateway.api.admin_contacts import CONTACT_SESSIONS_SHOWN, contact_view
from gateway.api.admin_schemas import ContactDetail
from gateway.api.views import assistant_ref, session_view
from gateway.errors import ValidationFailed
from gateway.sessions.phone import to_e164
from gateway.store import Store
from kinds.clock import SystemClock

Command = Callable[[argparse.Namespace, Settings], Coroutine[Any, Any, int]]
MAX_NAME_CHARS = 200


def _fail(message: str, code: int = 1) -> int:
    print(message, file=sys.stderr)
    return code


async def _assign(store: Store, args: argparse.Namespace) -> int:
    try:
        number = to_e164(args.number, field="number")
    except ValidationFailed:
        return _fail(f"not a phone number: {args.number!r} (expected E.164, e.g. +15550002222)", 2)
    if await store.assistants.get(args.assistant) is None:
        return _fail(f"no assistant {args.assistant}")
    now = SystemClock().now()
    fields: dict[str, Any] = {"assistant_id": args.assistant, "enabled": not args.disabled}
    if args.label is not None:
        fields["label"] = args.label
    if args.carrier is not None:
        fields["carrier"] = args.carrier
    existing = await store.numbers.get_by_number(number)
    if existing is None:
        row = await store.numbers.create({"number": number, "carrier": "twilio"} | fields, now)
        if row is None:
            return _fail(f"{number} was assigned meanwhile; run the command again")
    else:
        updated = await store.numbers.update(existing.id, fields, now)
        assert updated is not None
        row = updated
    state = "enabled" if row.enabled else "disabled"
    print(f"{row.number} → assistant {row.assistant_id} ({state})")
    return 0


async def _list_numbers(store: Store) -> int:
    rows, _ = await store.numbers.search(limit=10_000, offset=0)
    for row in rows:
        state = "enabled" if row.enabled else "disabled"
        print(f"{row.id}\t{row.number}\t{row.carrier}\tassistant {row.assistant_id}\t{state}"
              f"\t{row.label or '-'}")  # fmt: skip
    return 0


async def _unassign(store: Store, args: argparse.Namespace) -> int:
    try:
        number = to_e164(args.number, field="number")
    except ValidationFailed:
        return _fail(f"not a phone number: {args.number!r}", 2)
    row = await store.numbers.get_by_number(number)
    if row is None or not await store.numbers.delete(row.id):
        return _fail(f"{number} is not assigned")
    print(f"unassigned {number}")
    return 0


async def _numbers(args: argparse.Namespace, settings: Settings) -> int:
    store = Store.open(settings.database_url)
    try:
        await store.migrate()
        if args.action == "assign":
            return await _assign(store, args)
        if args.action == "unassign":
            return await _unassign(store, args)
        return await _list_numbers(store)
    finally:
        await store.aclose()


async def _show_contact(store: Store, contact_id: int) -> int:
    row = await store.contacts.get(contact_id)
    if row is None:
        return _fail(f"no contact {contact_id}")
    views = []
    for session in await store.contacts.sessions(row.id, limit=CONTACT_SESSIONS_SHOWN):
        assistant = await store.assistants.get(session.assistant_id, include_deleted=True)
        assert assistant is not None
        views.append(session_view(session, assistant_ref(assistant)))
    detail = ContactDetail(**contact_view(row).model_dump(), sessions=views)
    print(detail.model_dump_json(indent=2))
    return 0


async def _contacts(args: argparse.Namespace, settings: Settings) -> int:
    store = Store.open(settings.database_url)
    try:
        await store.migrate()
        if args.action == "show":
            return await _show_contact(store, args.id)
        if args.action == "update":
            if len(args.name) > MAX_NAME_CHARS:
                return _fail(f"a name has at most {MAX_NAME_CHARS} characters", 2)
            row = await store.contacts.rename(args.id, args.name.strip() or None)
            if row is None:
                return _fail(f"no contact {args.id}")
            print(f"contact {row.id}: {row.name or '(no name)'}")
            return 0
        rows, _ = await store.contacts.search(phone_number=None, limit=args.limit, offset=0)
        for c in rows:
            print(f"{c.id}\t{c.phone_number}\t{c.name or '-'}\t{c.session_count} sessions"
                  f"\tlast {c.last_seen_at.isoformat(timespec='seconds')}")  # fmt: skip
        return 0
    finally:
        await store.aclose()


def _positive_int(text: str) -> int:
    if not text.isdigit() or int(text) < 1 or len(text) > 18:
        raise argparse.ArgumentTypeError(f"expected a positive id, got {text!r}")
    return int(text)


def add_parsers(sub: Any) -> None:
    """Add the ``numbers`` and ``contacts`` sub-commands to the ``kura`` parser."""
    numbers = sub.add_parser("numbers", help="route phone numbers to assistants")
    actions = numbers.add_subparsers(dest="action", required=True)
    assign = actions.add_parser("assign", help="answer NUMBER with an assistant")
    assign.add_argument("number", help="E.164, e.g. +15550002222")
    assign.add_argument("--assistant", type=_positive_int, required=True, help="assistant id")
    assign.add_argument("--label", help="a note shown in lists")
    assign.add_argument(
        "--carrier",
        choices=("twilio", "telnyx", "plivo", "signalwire", "vonage"),
        help="whose webhooks answer it (twilio)",
    )
    assign.add_argument("--disabled", action="store_true", help="assign but do not answer")
    actions.add_parser("list", help="list numbers: id, number, carrier, assistant, state, label")
    unassign = actions.add_parser("unassign", help="stop answering NUMBER")
    unassign.add_argument("number", help="E.164, e.g. +15550002222")

    contacts = sub.add_parser("contacts", help="callers the gateway knows")
    actions = contacts.add_subparsers(dest="action", required=True)
    listing = actions.add_parser("list", help="list contacts, most recent first")
    listing.add_argument("--limit", type=_positive_int, default=100, help="at most this many")
    show = actions.add_parser("show", help="a contact and its recent sessions, as JSON")
    show.add_argument("id", type=_positive_int, help="the contact's id")
    update = actions.add_parser("update", help="set the name the assistant is told")
    update.add_argument("id", type=_positive_int, help="the contact's id")
    update.add_argument("--name", required=True, help="an empty name clears it")


COMMANDS: dict[str, Command] = {"numbers": _numbers, "contacts": _contacts}
