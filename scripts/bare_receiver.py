#!/usr/bin/env python3
"""A bare aiohttp server that takes Twilio calls and does nothing with them: the floor under
any gateway built on aiohttp, to measure beside ours with the same load generator.

It answers the voice webhook with a ``<Connect><Stream>`` to itself (no signature check, no
database), accepts the media socket, and per frame only parses the JSON (``--mode recv``) or
also sends the audio straight back (``--mode echo``). Loopback only.

    taskset -c 0 .venv/bin/python scripts/bare_receiver.py --port 18555 --mode recv &
    .venv/bin/python scripts/loadtest.py --gateway http://127.0.0.1:18555 --auth-token x \\
        --to +15550002222 --gateway-pid $! --calls 250 --duration-s 20

Measured here (2026-11-21): ``recv`` on asyncio's loop used 96 % of a core at 250 streams;
at 150 streams, 44 % on asyncio's loop and 24 % with ``--uvloop``.
"""

from __future__ import annotations

import argparse
import asyncio

import orjson
from aiohttp import WSMsgType, web


def build(port: int, echo: bool) -> web.Application:
    stream_url = f"ws://127.0.0.1:{port}/telephony/twilio/media"
    twiml = (
        '<?xml version="1.0" encoding="UTF-8"?><Response><Connect>'
        f'<Stream url="{stream_url}"><Parameter name="session_id" value="-"/>'
        '<Parameter name="token" value="-"/></Stream></Connect></Response>'
    )

    async def voice(request: web.Request) -> web.Response:
        await request.post()
        return web.Response(text=twiml, content_type="text/xml")

    async def media(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        sid = ""
        async for message in ws:
            if message.type != WSMsgType.TEXT:
                continue
            frame = orjson.loads(message.data)
            event = frame.get("event")
            if event == "start":
                sid = frame["start"]["streamSid"]
            elif event == "media" and echo:
                reply = {"event": "media", "streamSid": sid, "media": frame["media"]}
                await ws.send_frame(orjson.dumps(reply), WSMsgType.TEXT)
            elif event == "stop":
                break
        return ws

    app = web.Application()
    app.router.add_post("/telephony/twilio/voice", voice)
    app.router.add_get("/telephony/twilio/media", media)
    return app


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--port", type=int, default=18555)
    p.add_argument("--mode", choices=("recv", "echo"), default="recv")
    p.add_argument("--uvloop", action="store_true", help="run on uvloop instead of asyncio's loop")
    args = p.parse_args()
    if args.uvloop:
        import uvloop

        loop = uvloop.new_event_loop()
    else:
        loop = asyncio.new_event_loop()
    app = build(args.port, args.mode == "echo")
    web.run_app(app, host="127.0.0.1", port=args.port, access_log=None, loop=loop)


if __name__ == "__main__":
    main()
