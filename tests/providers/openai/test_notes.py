"""A supervisor's whisper reaches OpenAI as a system item, and asks for no reply."""

from __future__ import annotations

from providers.spec import AssistantSpec, SessionContext
from tests.fakes.openai_realtime import FakeConnection
from tests.providers.openai.conftest import Events, ServerFactory, make_provider
from tests.virtual_clock import VirtualClock

ASSISTANT = AssistantSpec(name="Acme", instructions="Be brief.", provider="openai")


async def test_a_note_is_a_system_item_without_response_create(
    fake_server: ServerFactory, clock: VirtualClock
) -> None:
    async def script(conn: FakeConnection) -> None:
        await conn.session_created()
        await conn.expect("session.update")
        created = await conn.expect("conversation.item.create")
        assert created["item"] == {
            "type": "message",
            "role": "system",
            "content": [{"type": "input_text", "text": "Offer the premium plan"}],
        }
        # The next thing the gateway sends is the caller's text: no response.create between.
        following = await conn.expect("conversation.item.create")
        assert following["item"]["role"] == "user"
        await conn.expect("response.create")
        await conn.text_response("Sure.")

    server = await fake_server(script)
    session = await make_provider(server.url, clock).connect(
        ASSISTANT, SessionContext("s1", mode="chat")
    )
    events = Events(session)
    await session.send_note("Offer the premium plan")
    await session.send_text("Hi")
    await events.until("response_done")  # the script ran to its end
    await session.aclose()
    assert server.script_errors == []
    types = server.connections[0].received_types()
    assert types[1:] == [
        "conversation.item.create",
        "conversation.item.create",
        "response.create",
    ]
