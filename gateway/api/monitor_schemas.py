"""REST bodies of live monitoring."""

from __future__ import annotations

from pydantic import BaseModel, Field


class MonitorStarted(BaseModel):
    websocket_url: str = Field(
        description="The supervisor's WebSocket; its single-use token is valid on this node only"
    )
    expires_in_s: float = Field(description="Seconds the token in websocket_url stays valid")
