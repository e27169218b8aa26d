"""The webhooks of a warm transfer's human leg: answered (the whisper), the key, its status.

``/telephony/{carrier}/transfer/{transfer_id}/{answer|decision|status}``. Each
is signed by its carrier (checked like every webhook of that carrier's door: ``transfer_doors``)
and must come from the very leg the transfer placed (its ``CallSid``; when the carrier's answer
to placing it named none, the first signed webhook tells it); the id is a random token
and the URLs carry no number. Any node may take them: the event moves the stored transfer
(``transfer_flow``), and the node holding the caller acts on it. A transfer that is over, or
unknown, gets a goodbye for the human.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from aiohttp import web

from gateway import tracing
from gateway.context import CONTEXT
from gateway.errors import Forbidden
from gateway.store import Store
from gateway.store.models import CallTransfer, Turn
from gateway.telephony.service import TELEPHONY
from gateway.telephony.transfer import WarmTransfer
from gateway.telephony.transfer_doors import LEG_DOORS, LegDoor
from gateway.telephony.transfer_flow import apply_event, outcome_teller
from gateway.telephony.transfer_legs import TRANSFER_HOOK, TransferLegs
from gateway.telephony.transfer_machine import LEG_STATUS_EVENTS, TransferEvent, TransferState
from gateway.telephony.transfer_twiml import ACCEPT_KEY, DECLINED, GONE, conference_name

log = logging.getLogger(__name__)

RECENT_TURNS = 4
TURN_CHARS = 200


@dataclass(frozen=True, slots=True)
class LegHook:
    """A signed webhook of a transfer's leg: its form, and the stored transfer it is about."""

    form: Mapping[str, str]
    row: CallTransfer | None
    live: WarmTransfer | None
    """The transfer itself when this node holds the caller; else the row is all there is."""
    legs: TransferLegs | None
    """The leg's carrier, to hang the leg up should the event call for it."""

    async def apply(self, request: web.Request, event: TransferEvent) -> TransferState | None:
        """Apply ``event``: through the live transfer (which acts for the caller at once), or
        to the stored row (the caller's node sees it on its next look)."""
        if self.live is not None:
            return await self.live.on_event(event)
        if self.row is None:
            return None
        ctx = request.app[CONTEXT]
        told = outcome_teller(ctx.store, ctx.events)
        row = await apply_event(ctx.store, self.legs, ctx.clock, self.row.id, event, told=told)
        return None if row is None else row.state  # type: ignore[return-value]


def reply(door: LegDoor, document: str) -> web.Response:
    if not document:
        return web.Response(status=204)
    return web.Response(text=document, content_type=door.markup.content_type)


@dataclass(frozen=True, slots=True)
class TransferHooks:
    """The three webhooks of the human's leg on one carrier."""

    door: LegDoor

    async def _leg_hook(self, request: web.Request) -> LegHook:
        """The transfer this signed webhook is about, once the leg is proven to be its own."""
        form = await self.door.signed_fields(request)
        ids = self.door.leg_ids(form)
        transfer_id = request.match_info["transfer_id"]
        tracing.annotate(call_sid=ids[0], transfer_id=transfer_id)
        telephony = request.app[TELEPHONY]
        live = telephony.transfers.get(transfer_id)
        row = live.row if live is not None else None
        if row is None:
            row = await request.app[CONTEXT].store.transfers.get(transfer_id)
        if row is not None and row.leg_sid not in (None, *ids):
            log.warning("transfer webhook from another call", extra={"transfer_id": transfer_id})
            raise Forbidden("this call is not the transfer's")
        if row is None:
            log.info("transfer webhook for no transfer", extra={"transfer_id": transfer_id})
        elif row.leg_sid != ids[0]:
            # The carrier's answer to placing the leg named no id, or another one (Plivo's
            # request id): from now on the leg is known by its own.
            row.leg_sid = ids[0]
            await request.app[CONTEXT].store.transfers.update(row.id, {"leg_sid": ids[0]})
        return LegHook(form, row, live, telephony.transfer_legs(self.door.carrier))

    async def answered(self, request: web.Request) -> web.Response:
        """The human picked up: the whisper, and one key to decide."""
        hook, markup = await self._leg_hook(request), self.door.markup
        if hook.row is None or hook.legs is None:
            return reply(self.door, markup.goodbye(GONE))
        if await hook.apply(request, "answered") != "whispering":
            return reply(self.door, markup.goodbye(GONE))
        ctx = request.app[CONTEXT]
        summary = hook.row.summary or await summary_from_transcript(ctx.store, hook.row.session_id)
        decision_url = hook.legs.hook_url(hook.row.id, "decision")
        timeout_s = ctx.settings.transfer_whisper_timeout_s
        return reply(self.door, markup.whisper(summary, decision_url, timeout_s))

    async def decision(self, request: web.Request) -> web.Response:
        """The key the human pressed after the whisper (none: the whisper timed out)."""
        hook = await self._leg_hook(request)
        accepted = hook.form.get("Digits", "")[:1] == ACCEPT_KEY
        state = await hook.apply(request, "accept" if accepted else "decline")
        if state in ("bridging", "accepted") and hook.row is not None:
            return reply(self.door, self.door.markup.join(conference_name(hook.row.id)))
        return reply(self.door, self.door.markup.goodbye(DECLINED if state == "declined" else GONE))

    async def leg_status(self, request: web.Request) -> web.Response:
        """The human leg's status callbacks: ringing, busy, no answer, hung up …"""
        hook = await self._leg_hook(request)
        event = LEG_STATUS_EVENTS.get(self.door.status_of(hook.form))
        # ``in-progress`` is the answer webhook's to tell: it comes with the whisper's TwiML.
        if event is not None and event != "answered":
            await hook.apply(request, event)
        return reply(self.door, self.door.markup.empty())


async def summary_from_transcript(store: Store, session_id: str) -> str:
    """The call so far in the transcript's last turns, when the assistant gave no summary."""
    turns = [turn for turn in await store.sessions.turns(session_id) if turn.text.strip()]
    if not turns:
        return "There is no summary of the call."
    return " ".join(_said(turn) for turn in turns[-RECENT_TURNS:])


def _said(turn: Turn) -> str:
    who = "The caller" if turn.role == "user" else "The assistant"
    text = turn.text.strip()
    if len(text) > TURN_CHARS:
        text = text[:TURN_CHARS].rsplit(" ", 1)[0] + " …"
    return f"{who} said: {text}"


Webhook = Callable[[web.Request], Awaitable[web.Response]]
Timed = Callable[[str, Webhook, str], Webhook]


def add_transfer_routes(app: web.Application, timed: Timed) -> None:
    """Route the three webhooks on each carrier that can transfer warm (``timed`` wraps each
    for the latency metric and tracing)."""
    for door in LEG_DOORS:
        hooks = TransferHooks(door)
        for hook, handler in (
            ("answer", hooks.answered), ("decision", hooks.decision), ("status", hooks.leg_status),
        ):  # fmt: skip
            path = door.prefix + TRANSFER_HOOK.replace("{hook}", hook)
            app.router.add_post(path, timed(f"transfer_{hook}", handler, door.carrier))
