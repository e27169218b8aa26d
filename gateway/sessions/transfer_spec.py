"""The ``transfer_call`` tool as an assistant offers it: where it may send the caller, and how.

The model picks a destination by name from the assistant's ``transfer_destinations`` (the names
and descriptions are in the tool's description; the numbers never reach the model) or asks for
the assistant's ``transfer_number`` with no destination, and picks the mode: ``cold`` dials
the caller straight through, ``warm`` asks the human first. Its ``summary`` is what the human
hears before accepting: the provider's own account of the call so far.
"""

from __future__ import annotations

from typing import Any

from gateway.sessions.plan import TRANSFER_TOOL
from gateway.store.models import Assistant
from providers.spec import ToolSpec

DESCRIPTION = (
    "Transfer the caller to a human colleague. First tell the caller, in one short sentence, "
    "that you are connecting them. mode 'warm' asks the colleague first: the caller hears a "
    "hold chime, and if nobody takes the call you are told and carry on; 'cold' puts the "
    "caller straight through and ends your part."
)


def can_transfer(assistant: Assistant) -> bool:
    """The assistant has somewhere to transfer a caller to."""
    return bool(assistant.transfer_number or assistant.transfer_destinations)


def transfer_tool(assistant: Assistant) -> ToolSpec:
    """The tool with the assistant's destinations (none named: its ``transfer_number``)."""
    destinations = assistant.transfer_destinations or []
    properties: dict[str, Any] = {
        "mode": {"type": "string", "enum": ["warm", "cold"]},
        "summary": {
            "type": "string",
            "description": "One or two sentences for the colleague: who is calling and why.",
        },
        "reason": {"type": "string"},
    }
    if not destinations:
        return ToolSpec(
            TRANSFER_TOOL.name, DESCRIPTION, {"type": "object", "properties": properties}
        )
    listed = "; ".join(f"{d['name']}: {d.get('description') or '-'}" for d in destinations)
    properties["destination"] = {
        "type": "string",
        "enum": [d["name"] for d in destinations],
        "description": "Who to transfer to, by name.",
    }
    parameters: dict[str, Any] = {"type": "object", "properties": properties}
    if not assistant.transfer_number:
        parameters["required"] = ["destination"]
    return ToolSpec(TRANSFER_TOOL.name, f"{DESCRIPTION} Destinations: {listed}.", parameters)
