"""Finishing work a cancelled door must not cut in half.

Shared by the runner (release the provider, record the end) and the recording plumbing (store
the file): each runs after the conversation, when the door's task may already be cancelled.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any


async def complete_despite_cancel(work: Coroutine[Any, Any, None]) -> None:
    """Run ``work`` to the end even if this task is cancelled meanwhile, then re-raise.

    A session's wrap-up (release the provider, record the end) must not be cut in half: a door
    whose connection drops while its session is finishing (aiohttp cancels the handler) would
    otherwise leave the session ``active`` in the database.
    """
    task = asyncio.ensure_future(work)
    cancelled = False
    while not task.done():
        try:
            await asyncio.shield(task)
        except asyncio.CancelledError:
            cancelled = True
    if cancelled:
        raise asyncio.CancelledError
    task.result()
