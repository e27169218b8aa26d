"""The event loop ``kura serve`` runs on: uvloop where it is installed, else asyncio's own.

Measured with ``scripts/loadtest.py`` on the same machine: a bare aiohttp server receiving
150 Twilio media streams used 44 % of a core on asyncio's loop and 24 % on uvloop. The call
path is socket reads and writes above all, so the loop is a large share of a call's CPU.
"""

from __future__ import annotations

import asyncio
import importlib.util
import logging

log = logging.getLogger(__name__)


def new_event_loop(choice: str = "auto") -> asyncio.AbstractEventLoop:
    """A fresh loop for ``choice`` (``auto``, ``uvloop`` or ``asyncio``); ``uvloop`` that is
    not installed is an error, ``auto`` falls back quietly."""
    if choice == "uvloop" or (choice == "auto" and importlib.util.find_spec("uvloop")):
        import uvloop

        return uvloop.new_event_loop()
    return asyncio.new_event_loop()


def loop_name(loop: asyncio.AbstractEventLoop) -> str:
    return "uvloop" if type(loop).__module__.startswith("uvloop") else "asyncio"
