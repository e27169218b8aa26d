"""``kura``: serve the gateway, migrate the database, manage keys and assistants."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

from aiohttp import web
from pydantic import ValidationError
from sqlalchemy.exc import SQLAlchemyError

from config import Settings
from gateway import cli_admin, cli_calls, cli_config, tracing
from gateway.api.assistants_api import checked_fields
from gateway.api.errors import validation_failed
from gateway.api.permissions import ALL_PERMISSIONS, unknown_permissions
from gateway.api.schemas import AssistantFields, CreateAssistantRequest
from gateway.api.views import assistant_view
from gateway.app import BOOTSTRAP, build_app
from gateway.bootstrap import generate_api_key
from gateway.cli_parser import build_parser
from gateway.context import CONTEXT
from gateway.drain import drain_on_sigterm
from gateway.errors import ValidationFailed
from gateway.event_loop import loop_name, new_event_loop
from gateway.gc_tuning import GcPauseRecorder, tune_gc_after_startup
from gateway.logs import AccessLogger, configure_logging
from gateway.provider_setup import build_registry
from gateway.store import Store
from kinds.clock import SystemClock

Command = Callable[[argparse.Namespace, Settings], Coroutine[Any, Any, int]]

log = logging.getLogger(__name__)


def _serve(args: argparse.Namespace, settings: Settings) -> int:
    settings = settings.model_copy(
        update={"host": args.host or settings.host, "port": args.port or settings.port}
    )
    configure_logging(settings.log_level)
    app = build_app(settings)
    drain_on_sigterm(app, app[CONTEXT])

    async def show_new_key(app: web.Application) -> None:
        # Printed as soon as it exists (not after binding), so it is not lost if binding fails.
        for result in app[BOOTSTRAP]:
            if result.new_key:
                print(
                    "Created an API key with every permission. It is shown only this once:\n"
                    f"  {result.new_key}",
                    flush=True,
                )

    def announce(_banner: str) -> None:
        """``run_app`` calls this once the port is bound (``on_startup`` runs before), so a
        script that waits for the "listening" line can connect at once. Where it listens and
        where clients reach it differ behind a proxy, so each has its own line, the listening
        one last."""
        print(f"Kura gateway public URL: {settings.effective_public_url}", flush=True)
        print(f"Kura gateway listening on {listen_url(settings.host, settings.port)}", flush=True)

    app.on_startup.append(show_new_key)

    async def tune_gc(_app: web.Application) -> None:
        tune_gc_after_startup()  # after the app's own start-up: those objects live forever
        GcPauseRecorder().install()

    app.on_startup.append(tune_gc)
    _run_server(app, settings, announce)
    return 0


def _run_server(app: web.Application, settings: Settings, announce: Callable[[str], None]) -> None:
    """Serve until stopped, on the configured event loop, with traces flushed at exit."""
    loop = new_event_loop(settings.event_loop)
    log.info("event loop", extra={"loop": loop_name(loop)})
    if settings.tracing == "otlp":
        tracing.configure()
    try:
        web.run_app(
            app,
            host=settings.host,
            port=settings.port,
            access_log_class=AccessLogger,
            print=announce,
            loop=loop,
        )
    finally:
        tracing.shutdown()  # flushes spans still batched


def listen_url(host: str, port: int) -> str:
    """The address the server binds, as a URL (IPv6 hosts in brackets)."""
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}"


async def _migrate(args: argparse.Namespace, settings: Settings) -> int:
    store = Store.open(settings.database_url)
    try:
        await store.migrate()
    finally:
        await store.aclose()
    print("database is up to date")
    return 0


async def _keys(args: argparse.Namespace, settings: Settings) -> int:
    if args.action == "generate":  # no database: a key for KURA_BOOTSTRAP_API_KEY
        print(generate_api_key())
        return 0
    store = Store.open(settings.database_url)
    clock = SystemClock()
    try:
        await store.migrate()
        if args.action == "create":
            names = (p.strip() for p in args.permissions.split(","))
            permissions = [p for p in names if p] or list(ALL_PERMISSIONS)
            if bad := unknown_permissions(permissions):
                print(f"unknown permissions: {', '.join(bad)}", file=sys.stderr)
                print(f"known: {', '.join(ALL_PERMISSIONS)}", file=sys.stderr)
                return 2
            secret = generate_api_key()
            row = await store.keys.create(
                secret,
                name=args.name,
                permissions=permissions,
                rate_limit_per_minute=args.rate_limit,
                now=clock.now(),
            )
            print(f"created key {row.id} ({row.name}): {', '.join(row.permissions)}")
            print(secret)
        elif args.action == "list":
            for key in await store.keys.list_all():
                state = "revoked" if key.revoked_at else "live"
                print(
                    f"{key.id}\t{key.prefix}…\t{key.name}\t{state}\t"
                    f"{key.rate_limit_per_minute}/min\t{','.join(key.permissions)}"
                )
        elif args.action == "revoke":
            if not await store.keys.revoke(args.id, clock.now()):
                print(f"no live key {args.id}", file=sys.stderr)
                return 1
            print(f"revoked key {args.id}")
        return 0
    finally:
        await store.aclose()


def _assistant_fields(args: argparse.Namespace) -> dict[str, Any]:
    names = AssistantFields.model_fields
    fields = {n: getattr(args, n) for n in names if getattr(args, n, None) is not None}
    for name in ("tools", "turn_detection", "interruption"):
        if name in fields:
            try:
                fields[name] = json.loads(fields[name])
            except ValueError as exc:
                detail = {"field": name, "message": f"not valid JSON: {exc}"}
                raise ValidationFailed("invalid JSON", details=[detail]) from None
    return fields


def _checked_assistant(
    model: type[AssistantFields], args: argparse.Namespace, settings: Settings
) -> dict[str, Any]:
    """The options as stored fields, validated exactly as the REST API validates a body."""
    try:
        body = model.model_validate(_assistant_fields(args))
    except ValidationError as exc:
        raise validation_failed(exc) from None
    return checked_fields(body, build_registry(settings, SystemClock()).names())


def _report_invalid(exc: ValidationFailed) -> int:
    """Bad options: one line per field, named as its flag, and exit code 2 like argparse."""
    print("kura: invalid assistant options:", file=sys.stderr)
    for detail in exc.details:
        flag, _, rest = str(detail["field"]).partition(".")
        where = f"--{flag.replace('_', '-')}" + (f" ({rest})" if rest else "")
        print(f"  {where}: {detail['message']}", file=sys.stderr)
    return 2


async def _assistants(args: argparse.Namespace, settings: Settings) -> int:
    try:
        fields = (
            _checked_assistant(CreateAssistantRequest, args, settings)
            if args.action == "create"
            else _checked_assistant(AssistantFields, args, settings)
            if args.action == "update"
            else {}
        )
    except ValidationFailed as exc:
        return _report_invalid(exc)
    store = Store.open(settings.database_url)
    now = SystemClock().now()
    try:
        await store.migrate()
        if args.action == "list":
            for row in await store.assistants.list_all():
                print(f"{row.id}\t{row.name}\t{row.provider}\t{row.model or '-'}")
            return 0
        if args.action == "create":
            row = await store.assistants.create(fields, now)
        elif args.action == "update":
            updated = await store.assistants.update(args.id, fields, now)
            if updated is None:
                print(f"no assistant {args.id}", file=sys.stderr)
                return 1
            row = updated
        elif args.action == "delete":
            if not await store.assistants.delete(args.id, now):
                print(f"no assistant {args.id}", file=sys.stderr)
                return 1
            print(f"deleted assistant {args.id}")
            return 0
        else:
            found = await store.assistants.get(args.id)
            if found is None:
                print(f"no assistant {args.id}", file=sys.stderr)
                return 1
            row = found
        print(assistant_view(row).model_dump_json(indent=2))
        return 0
    finally:
        await store.aclose()


COMMANDS: dict[str, Command] = {"migrate": _migrate, "keys": _keys, "assistants": _assistants}
COMMANDS.update(cli_admin.COMMANDS)
COMMANDS.update(cli_calls.COMMANDS)
COMMANDS.update(cli_config.COMMANDS)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    settings = cli_config.load_settings(os.environ)
    if settings is None:
        return cli_config.CONFIG_ERROR
    try:
        if args.command == "serve":
            return _serve(args, settings)
        return asyncio.run(COMMANDS[args.command](args, settings))
    except (OSError, SQLAlchemyError) as exc:
        # The operator's environment (port taken, database unreachable or misnamed), not a bug:
        # say what failed without a traceback.
        print(f"kura: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
