"""A fake OpenAI Realtime server (GA interface) on loopback, scripted per test.

It speaks the real protocol over a real aiohttp WebSocket: ``GET /v1/realtime?model=…`` with
``Authorization: Bearer …``, ``session.created`` first, then whatever the test's script sends.
Every client message is recorded and validated with the openai SDK's own types
(``RealtimeClientEvent`` plus the ``unknown_keys`` check of protocols.md §5.1); every event the
fake sends is validated against ``RealtimeServerEvent`` so the fake cannot drift from the API.

Self-contained (imports nothing of Kura) so a load test can run it in its own process:
``python -m tests.fakes.openai_realtime --port 9100`` answers each caller turn with audio and a
transcript about 300 ms after the caller stops speaking. Run so, it is *light*: it records
nothing, validates only the first event of each type each way, hands each client event to the
script as it is read (no queue, no second task), and all connections' replies wait on one timer
(``tests.fakes.reply_timer``); on SIGTERM it prints its CPU time (``CPU_LINE``).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import functools
import itertools
import json
import socket
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import WSCloseCode, WSMsgType, web
from openai.types.realtime import RealtimeClientEvent, RealtimeServerEvent
from pydantic import BaseModel, TypeAdapter, ValidationError

from tests.fakes.fake_cpu import serve_until_stopped
from tests.fakes.reply_timer import ReplyTimer

Event = dict[str, Any]
Script = Callable[["FakeConnection"], Awaitable[None]]
Refusal = Callable[[int], int | None]
"""Attempt number (from 1) → HTTP status to refuse the upgrade with, or ``None`` to accept."""

CLIENT = TypeAdapter(RealtimeClientEvent)
SERVER = TypeAdapter(RealtimeServerEvent)
EXPECT_TIMEOUT_S = 5.0
"""Safety net for a script waiting on a client message that never comes (not a timer under test)."""
CPU_LINE = "fake OpenAI Realtime CPU "
"""Starts the line printed at exit: ``<user+sys> s over <wall> s (<pct> % of a core)``."""
Handler = Callable[[Event], Awaitable[None]]


def unknown_keys(model: Any, path: str = "$") -> list[str]:
    """Keys the SDK models kept as extras: typos or beta-era fields (protocols.md §5.1)."""
    out: list[str] = []
    if isinstance(model, BaseModel):
        out += [f"{path}.{key}" for key in (model.model_extra or {})]
        for name in type(model).model_fields:
            out += unknown_keys(getattr(model, name), f"{path}.{name}")
    elif isinstance(model, list | tuple):
        for index, item in enumerate(model):
            out += unknown_keys(item, f"{path}[{index}]")
    return out


def validate_client_event(raw: str) -> list[str]:
    """Problems with one client message; empty when the SDK types accept it fully."""
    try:
        event = CLIENT.validate_json(raw)
    except ValidationError as exc:
        kind = json.loads(raw).get("type")
        return [f"{kind}: {err['loc']} {err['msg']}" for err in exc.errors()[:5]]
    return unknown_keys(event)


@dataclass
class Response:
    """A response the fake is producing; ``output`` becomes ``response.done``'s output."""

    id: str
    output: list[Event] = field(default_factory=list)


class FakeConnection:
    """One accepted client connection; scripts drive it with the helpers below."""

    def __init__(
        self,
        index: int,
        ws: web.WebSocketResponse,
        request: web.Request,
        *,
        timer: ReplyTimer,
        checked: set[str] | None = None,
    ) -> None:
        self.index = index
        self.ws = ws
        self.timer = timer
        """The server's one timer for replies' think time."""
        self.light = checked is not None
        """Record nothing and validate only the first event of each type each way (load)."""
        self._checked = checked if checked is not None else set()
        self.handler: Handler | None = None
        """Set by a script: client events go to it as they are read, not to the queue."""
        self.transport = request.transport
        """The TCP transport, for resetting the connection (``abort``) without a close frame."""
        self.query = dict(request.query)
        self.model = request.query.get("model")
        self.authorization = request.headers.get("Authorization")
        self.beta_header = request.headers.get("OpenAI-Beta")
        self.received: list[Event] = []
        self.invalid: list[str] = []
        self.session: Event = {"type": "realtime", "output_modalities": ["audio"]}
        self.on_client_close: Callable[[], None] | None = None
        """Called the moment the client's close arrives (tests read their clock here)."""
        self._inbox: asyncio.Queue[Event | None] = asyncio.Queue()
        self._ids = itertools.count(1)

    def new_id(self, prefix: str) -> str:
        return f"{prefix}_{self.index}_{next(self._ids)}"

    def received_types(self) -> list[str]:
        return [event["type"] for event in self.received]

    def _record(self, raw: str) -> Event:
        event: Event = orjson.loads(raw)
        kind = f"client:{event.get('type')}"
        if not self.light:
            self.received.append(event)
        if not self.light or kind not in self._checked:
            self._checked.add(kind)
            self.invalid += validate_client_event(raw)
        if event.get("type") == "session.update":
            self.session.update(event.get("session") or {})
        return event

    async def expect(self, kind: str, timeout_s: float = EXPECT_TIMEOUT_S) -> Event:
        """The next client event of ``kind`` (earlier ones of other kinds are skipped)."""
        async with asyncio.timeout(timeout_s):
            while True:
                event = await self._inbox.get()
                if event is None:
                    raise ConnectionError(f"client closed while the fake waited for {kind}")
                if event["type"] == kind:
                    return event

    async def next_event(self, timeout_s: float | None = EXPECT_TIMEOUT_S) -> Event | None:
        """The next client event, or ``None`` once the client has closed."""
        async with asyncio.timeout(timeout_s):
            return await self._inbox.get()

    async def send(self, event: Event) -> None:
        event = {"event_id": self.new_id("event"), **event}
        raw = orjson.dumps(event)
        kind = f"server:{event['type']}"
        if not self.light or kind not in self._checked:
            self._checked.add(kind)
            try:
                SERVER.validate_json(raw)
            except ValidationError as exc:  # a bug in the fake, not in the client
                # The union lists errors for every member; the non-literal ones are the type's.
                errors = [
                    (e["loc"], e["msg"]) for e in exc.errors() if e["type"] != "literal_error"
                ]
                raise AssertionError(f"fake sent an invalid {event['type']}: {errors[:5]}") from exc
        await self.ws.send_frame(raw, WSMsgType.TEXT)

    async def close(self, code: int = WSCloseCode.OK) -> None:
        await self.ws.close(code=code)

    # Protocol building blocks.

    async def session_created(self) -> None:
        await self.send({"type": "session.created", "session": dict(self.session)})

    async def error(
        self,
        code: str,
        kind: str = "invalid_request_error",
        *,
        message: str | None = None,
        event_id: str | None = None,
    ) -> None:
        """An ``error`` event; ``event_id`` echoes the client event that caused it."""
        error: Event = {"type": kind, "code": code, "message": message or f"fake error {code}"}
        error |= {"param": None, "event_id": event_id}
        await self.send({"type": "error", "error": error})

    async def user_turn(self, transcript: str, *, deltas: Sequence[str] = ()) -> str:
        """The caller spoke: VAD events, the committed item and its transcription."""
        item_id = self.new_id("item")
        await self.send(
            {"type": "input_audio_buffer.speech_started", "audio_start_ms": 0, "item_id": item_id}
        )
        await self.send(
            {"type": "input_audio_buffer.speech_stopped", "audio_end_ms": 900, "item_id": item_id}
        )
        await self.send({"type": "input_audio_buffer.committed", "item_id": item_id})
        for delta in deltas:
            await self.send(
                {
                    "type": "conversation.item.input_audio_transcription.delta",
                    "item_id": item_id,
                    "content_index": 0,
                    "delta": delta,
                }
            )
        usage = {"type": "duration", "seconds": 0.9}
        await self.send(
            {
                "type": "conversation.item.input_audio_transcription.completed",
                "item_id": item_id,
                "content_index": 0,
                "transcript": transcript,
                "usage": usage,
            }
        )
        return item_id

    async def start_response(self) -> Response:
        response = Response(self.new_id("resp"))
        body = {"id": response.id, "object": "realtime.response", "status": "in_progress"}
        await self.send({"type": "response.created", "response": body})
        return response

    def _ids_of(self, response: Response, item_id: str) -> Event:
        return {
            "response_id": response.id,
            "item_id": item_id,
            "output_index": len(response.output),
            "content_index": 0,
        }

    async def audio_item(
        self, response: Response, transcript: str, audio_ms: int, *, chunks: int = 5
    ) -> str:
        """An assistant message with ``audio_ms`` of audio, transcript deltas interleaved."""
        item_id = self.new_id("item")
        item = {"id": item_id, "type": "message", "role": "assistant", "status": "in_progress"}
        ids = self._ids_of(response, item_id)
        await self._item_added(response, {**item, "content": []})
        deltas = audio_deltas(audio_ms, self.output_encoding(), chunks)
        words, spoken = transcript.split(" "), False
        for n, delta in enumerate(deltas):
            await self.send({"type": "response.output_audio.delta", **ids, "delta": delta})
            text = " ".join(words[len(words) * n // chunks : len(words) * (n + 1) // chunks])
            if text:
                text, spoken = (" " + text if spoken else text), True
                kind = "response.output_audio_transcript.delta"
                await self.send({"type": kind, **ids, "delta": text})
        await self.send({"type": "response.output_audio.done", **ids})
        kind = "response.output_audio_transcript.done"
        await self.send({"type": kind, **ids, "transcript": transcript})
        content = [{"type": "output_audio", "transcript": transcript}]
        await self._item_done(response, {**item, "status": "completed", "content": content})
        return item_id

    async def text_item(self, response: Response, text: str) -> str:
        item_id = self.new_id("item")
        item = {"id": item_id, "type": "message", "role": "assistant", "status": "in_progress"}
        ids = self._ids_of(response, item_id)
        await self._item_added(response, {**item, "content": []})
        await self.send({"type": "response.output_text.delta", **ids, "delta": text})
        await self.send({"type": "response.output_text.done", **ids, "text": text})
        content = [{"type": "output_text", "text": text}]
        await self._item_done(response, {**item, "status": "completed", "content": content})
        return item_id

    async def function_call(
        self, response: Response, name: str, arguments: Event, call_id: str | None = None
    ) -> str:
        call_id = call_id or self.new_id("call")
        item_id, args = self.new_id("item"), json.dumps(arguments)
        item = {"id": item_id, "type": "function_call", "call_id": call_id, "name": name}
        await self._item_added(response, {**item, "arguments": "", "status": "in_progress"})
        done = {"type": "response.function_call_arguments.done", "call_id": call_id}
        ids = {"response_id": response.id, "item_id": item_id}
        output_index = len(response.output)
        await self.send(
            {**done, **ids, "name": name, "arguments": args, "output_index": output_index}
        )
        await self._item_done(response, {**item, "arguments": args, "status": "completed"})
        return call_id

    async def _item_added(self, response: Response, item: Event) -> None:
        index = len(response.output)
        await self.send(
            {
                "type": "response.output_item.added",
                "response_id": response.id,
                "output_index": index,
                "item": item,
            }
        )

    async def _item_done(self, response: Response, item: Event) -> None:
        index = len(response.output)
        response.output.append(item)
        await self.send(
            {
                "type": "response.output_item.done",
                "response_id": response.id,
                "output_index": index,
                "item": item,
            }
        )

    async def finish_response(
        self, response: Response, status: str = "completed", reason: str | None = None
    ) -> None:
        body: Event = {"id": response.id, "object": "realtime.response", "status": status}
        body["output"] = response.output
        if reason is not None:
            body["status_details"] = {"type": status, "reason": reason}
        await self.send({"type": "response.done", "response": body})

    async def audio_response(self, transcript: str, audio_ms: int = 600) -> tuple[str, str]:
        """A whole spoken reply; returns (response id, item id)."""
        response = await self.start_response()
        item_id = await self.audio_item(response, transcript, audio_ms)
        await self.finish_response(response)
        return response.id, item_id

    async def text_response(self, text: str) -> str:
        response = await self.start_response()
        item_id = await self.text_item(response, text)
        await self.finish_response(response)
        return item_id

    def output_encoding(self) -> str:
        output = (self.session.get("audio") or {}).get("output") or {}
        return str((output.get("format") or {}).get("type") or "audio/pcm")


def free_port() -> int:
    """A loopback port nobody listens on (for refused connections and ``--port``)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@functools.cache
def audio_deltas(duration_ms: int, encoding: str, chunks: int) -> tuple[str, ...]:
    """``audio_bytes`` in ``chunks`` base64 deltas, encoded once per process: every reply of a
    load test speaks the same audio."""
    audio = audio_bytes(duration_ms, encoding)
    size = len(audio)
    pieces = [audio[size * n // chunks : size * (n + 1) // chunks] for n in range(chunks)]
    return tuple(base64.b64encode(piece).decode() for piece in pieces)


def audio_bytes(duration_ms: int, encoding: str = "audio/pcm") -> bytes:
    """A quiet square wave: PCM16 24 kHz (48 bytes/ms) or mu-law 8 kHz (8 bytes/ms)."""
    if encoding == "audio/pcm":
        period = (3000).to_bytes(2, "little", signed=True) * 27
        period += (-3000).to_bytes(2, "little", signed=True) * 27
        size = duration_ms * 48
    else:
        period, size = b"\x1f" * 9 + b"\x9f" * 9, duration_ms * 8
    return (period * (size // len(period) + 1))[:size]


class FakeRealtimeServer:
    """The fake on ``127.0.0.1``; ``scripts`` run per accepted connection (the last repeats)."""

    def __init__(
        self,
        scripts: Script | Sequence[Script],
        *,
        refuse: Refusal | None = None,
        connect_delay_s: float = 0.0,
        light: bool = False,
    ):
        self._scripts = [scripts] if callable(scripts) else list(scripts)
        self._checked: set[str] | None = set() if light else None
        self.timer = ReplyTimer()
        self._refuse = refuse
        self.connect_delay_s = connect_delay_s
        """Simulated set-up time (TLS, the upgrade, the session) before the socket opens."""
        self.attempts = 0
        self.connections: list[FakeConnection] = []
        self.script_errors: list[BaseException] = []
        self.connected = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/v1/realtime"

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        app = web.Application()
        app.router.add_get("/v1/realtime", self._handle)
        self._runner = web.AppRunner(app, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        self.port = self._runner.addresses[0][1]
        self.timer.start()

    async def stop(self) -> None:
        await self.timer.stop()
        for conn in self.connections:  # a client left open (a failed test) must not hang us
            await conn.ws.close(code=WSCloseCode.GOING_AWAY)
        if self._runner is not None:
            await self._runner.cleanup()

    def invalid_messages(self) -> list[str]:
        return [problem for conn in self.connections for problem in conn.invalid]

    async def wait_for_connections(self, count: int, timeout_s: float = EXPECT_TIMEOUT_S) -> None:
        async with asyncio.timeout(timeout_s), self.connected:
            await self.connected.wait_for(lambda: len(self.connections) >= count)

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        self.attempts += 1
        if self.connect_delay_s:
            await asyncio.sleep(self.connect_delay_s)
        status = self._refuse(self.attempts) if self._refuse else None
        if status is not None:
            return web.json_response({"error": {"code": f"http_{status}"}}, status=status)
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        index = len(self.connections)
        conn = FakeConnection(index, ws, request, timer=self.timer, checked=self._checked)
        async with self.connected:
            self.connections.append(conn)
            self.connected.notify_all()
        script = self._scripts[min(conn.index, len(self._scripts) - 1)]
        script_task = asyncio.create_task(self._run_script(script, conn))
        try:
            async for msg in ws:
                if msg.type is WSMsgType.TEXT:
                    await self._deliver(conn, conn._record(msg.data))
        finally:
            if conn.on_client_close is not None:
                conn.on_client_close()
            conn._inbox.put_nowait(None)
            script_task.cancel()
            await asyncio.gather(script_task, return_exceptions=True)
        return ws

    async def _deliver(self, conn: FakeConnection, event: Event) -> None:
        """To the script's handler as it is read (it answers on this task), else its queue."""
        if conn.handler is None:
            conn._inbox.put_nowait(event)
            return
        try:
            await conn.handler(event)
        except ConnectionError:
            raise
        except Exception as exc:
            self.script_errors.append(exc)
            await conn.close(WSCloseCode.INTERNAL_ERROR)

    async def _run_script(self, script: Script, conn: FakeConnection) -> None:
        try:
            await script(conn)
        except (asyncio.CancelledError, ConnectionError):
            raise
        except BaseException as exc:
            self.script_errors.append(exc)
            await conn.close(WSCloseCode.INTERNAL_ERROR)
            raise


async def serve_forever(host: str, port: int, connect_delay_s: float = 0.0) -> None:
    from tests.fakes.openai_realtime_default import default_script

    server = FakeRealtimeServer(default_script, connect_delay_s=connect_delay_s, light=True)
    await server.start(host, port)
    print(f"fake OpenAI Realtime on ws://{host}:{server.port}/v1/realtime", flush=True)
    try:
        await serve_until_stopped(CPU_LINE)
    finally:
        await server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9100)
    parser.add_argument(
        "--connect-delay-ms", type=float, default=0.0, help="simulated connect time per socket"
    )
    args = parser.parse_args()
    asyncio.run(serve_forever(args.host, args.port, args.connect_delay_ms / 1000))


if __name__ == "__main__":
    main()
