"""Turn bookkeeping in the engine: each turnComplete pairs an answer with the input it answers,
and the stored transcript keeps the order in which things were said."""

from __future__ import annotations

from gateway.sessions.port import CallerDigit, CallerText, CallerTurnStarted, Interrupt
from gateway.sessions.protocol import (
    AgentAudioChunk,
    TranscriptionUpdate,
    TurnComplete,
    TurnStarted,
)
from gateway.telephony.bridge_ports import call_traits
from gateway.telephony.twilio_codec import CAPABILITIES as TWILIO
from providers.events import (
    AgentAudio,
    CallerSpeechStarted,
    OutputTruncated,
    ResponseDone,
    TranscriptDelta,
)
from tests.gateway.sessions.harness import engine, waited

CALL_TRAITS = call_traits(TWILIO)

GREETING = "Hello, how can I help?"


async def test_text_during_the_greeting_is_the_next_turns_input() -> None:
    """The pairing case: a text typed while the greeting still streams is not credited to it."""
    async with engine() as h:
        h.provider.emit(TranscriptDelta("output", GREETING, item_id="greeting"))
        await h.client.until("transcriptionUpdate")  # the greeting is streaming, not done
        await h.send(CallerText("What time is it?"))
        assert await waited(h.provider.next_text()) == "What time is it?"
        h.provider.emit(ResponseDone("greeting"))
        greeting = await h.client.turn()
        assert (greeting.full_input, greeting.full_output) == ("", GREETING)
        h.provider.emit(
            TranscriptDelta("output", "It is noon.", item_id="answer"), ResponseDone("answer")
        )
        answer = await h.client.turn()
        assert (answer.full_input, answer.full_output) == ("What time is it?", "It is noon.")
        await h.settled()
        assert h.turns.transcript() == [
            ("assistant", GREETING),
            ("user", "What time is it?"),
            ("assistant", "It is noon."),
        ]
        turn_completes = [m for m in h.client.messages if isinstance(m, TurnComplete)]
        assert len(turn_completes) == 2
        assert h.turns.completed_turns == h.conversation.turns_completed == 2


async def test_a_text_between_responses_opens_its_own_turn() -> None:
    async with engine(mode="chat") as h:
        await h.send(CallerText("Hi"))
        h.provider.emit(TranscriptDelta("output", "Hello!", item_id="a1"), ResponseDone("a1"))
        turn = await h.client.turn()
        assert (turn.full_input, turn.full_output) == ("Hi", "Hello!")
        await h.send(CallerText("Bye"))
        h.provider.emit(TranscriptDelta("output", "Goodbye!", item_id="a2"), ResponseDone("a2"))
        turn = await h.client.turn()
        assert (turn.full_input, turn.full_output) == ("Bye", "Goodbye!")
        assert h.turns.transcript() == [
            ("user", "Hi"),
            ("assistant", "Hello!"),
            ("user", "Bye"),
            ("assistant", "Goodbye!"),
        ]


async def test_speech_over_the_answer_goes_to_the_next_turn() -> None:
    async with engine() as h:
        h.provider.emit(
            TranscriptDelta("input", "Tell me a story"),
            AgentAudio(b"\x00\x00" * 480, "story"),
            TranscriptDelta("output", "Once upon a time", item_id="story"),
            CallerSpeechStarted(),  # the caller talks over the story
            TranscriptDelta("input", "Stop, "),
            TranscriptDelta("input", "tell me the weather", final=True),
            ResponseDone("story", interrupted=True),
        )
        story = await h.client.turn()
        assert (story.full_input, story.full_output) == ("Tell me a story", "Once upon a time")
        assert story.interrupted is True
        h.provider.emit(
            AgentAudio(b"\x00\x00" * 480, "weather"),
            TranscriptDelta("output", "Sunny.", item_id="weather"),
            ResponseDone("weather"),
        )
        weather = await h.client.turn()
        assert (weather.full_input, weather.full_output) == ("Stop, tell me the weather", "Sunny.")
        assert h.turns.transcript() == [
            ("user", "Tell me a story"),
            ("assistant", "Once upon a time"),
            ("user", "Stop, tell me the weather"),
            ("assistant", "Sunny."),
        ]
        assert [r.interrupted for r in h.turns.records] == [False, True, False, False]


async def test_a_clients_turn_start_over_the_answer_goes_to_the_next_turn() -> None:
    """A phone call's VAD marks the caller's turn; the transcript that follows is the next
    turn's input, even when it arrives before the interrupted answer is done."""
    async with engine(traits=CALL_TRAITS, handles_barge_in=True) as h:
        h.provider.emit(AgentAudio(b"\xff" * 160, "a1"), TranscriptDelta("output", "Our hours"))
        await h.client.until("transcriptionUpdate")
        await h.send(CallerTurnStarted(ms_ago=40))
        await h.send(Interrupt(played_ms=20))
        h.provider.emit(TranscriptDelta("input", "Agent please"), ResponseDone("a1", True))
        first = await h.client.turn()
        assert (first.full_input, first.full_output, first.interrupted) == ("", "Our hours", True)
        h.provider.emit(TranscriptDelta("output", "Connecting.", item_id="a2"), ResponseDone("a2"))
        second = await h.client.turn()
        assert (second.full_input, second.full_output) == ("Agent please", "Connecting.")


async def test_input_transcribed_after_the_answer_began_belongs_to_that_answer() -> None:
    """Transcription often lags: the caller's words arrive after the reply has started, but
    nobody talked over it, so they are the input this answer answers."""
    async with engine() as h:
        h.provider.emit(
            CallerSpeechStarted(),
            AgentAudio(b"\x00\x00" * 480, "a1"),
            TranscriptDelta("input", "What time is it?", final=True),
            TranscriptDelta("output", "Noon.", item_id="a1"),
            ResponseDone("a1"),
        )
        turn = await h.client.turn()
        assert (turn.full_input, turn.full_output) == ("What time is it?", "Noon.")
        assert h.provider.interrupts == []  # speech before the answer interrupts nothing


async def test_provider_events_become_protocol_messages_in_order() -> None:
    """Port of the socket test of the same name: messages, audio and stored turns."""
    async with engine() as h:
        h.provider.emit(
            CallerSpeechStarted(),
            TranscriptDelta("input", "What time"),
            TranscriptDelta("input", " is it?", final=True),
            AgentAudio(b"\x01\x00" * 480, "item1"),
            TranscriptDelta("output", "It is noon.", item_id="item1"),
            ResponseDone("item1"),
        )
        turn, seen = await h.client.until("turnComplete")
        assert [m.type for m in seen] == [
            "turnStarted",
            "transcriptionUpdate",
            "transcriptionUpdate",
            "turnStarted",
            "transcriptionUpdate",
            "turnComplete",
        ]
        assert seen[0] == TurnStarted(role="user", turn_id=1)
        assert seen[1] == TranscriptionUpdate(source="input", text="What time", final=False)
        assert seen[3] == TurnStarted(role="assistant", turn_id=1)
        assert h.client.audio == [(b"\x01\x00" * 480, "item1")]  # passed through, as given
        assert turn == TurnComplete(
            full_input="What time is it?", full_output="It is noon.", turn_id=1, duration_ms=0
        )
        await h.send(Interrupt(played_ms=120))
        assert await waited(h.provider.next_interrupt()) == 120
        h.provider.emit(AgentAudio(b"\x02\x00" * 480, "item2"), ResponseDone("item2", True))
        second = await h.client.turn()
        assert (second.full_input, second.full_output, second.interrupted) == ("", "", True)
        assert [(r.role, r.text, r.interrupted) for r in h.turns.records] == [
            ("user", "What time is it?", False),
            ("assistant", "It is noon.", False),
            ("assistant", "", True),  # it spoke, so it is stored, though nothing was transcribed
        ]
        assert h.turns.completed_turns == 2
        assert not any(isinstance(m, AgentAudioChunk) for m in h.client.messages)


async def test_a_response_with_nothing_said_is_not_a_turn() -> None:
    async with engine() as h:
        h.provider.emit(ResponseDone(None))
        empty = await h.client.turn()
        assert (empty.full_input, empty.full_output) == ("", "")
        assert h.turns.records == [] and h.conversation.turns_completed == 0


async def test_a_key_press_is_a_text_note_and_a_turn_input() -> None:
    async with engine(traits=CALL_TRAITS) as h:
        await h.send(CallerDigit("5"))
        assert await waited(h.provider.next_text()) == "The caller pressed 5"
        h.provider.emit(TranscriptDelta("output", "Option five.", item_id="a1"), ResponseDone("a1"))
        turn = await h.client.turn()
        assert turn.full_input == "The caller pressed 5"


async def test_truncation_amends_the_answer_being_given() -> None:
    async with engine() as h:
        h.provider.emit(
            TranscriptDelta("input", "Tell me a story"),
            AgentAudio(b"\x00\x00" * 4800, "item1"),
            TranscriptDelta("output", "Once upon a time there was a gateway.", item_id="item1"),
            OutputTruncated("item1", 900, "Once upon a time"),
            ResponseDone("item1", interrupted=True),
        )
        turn = await h.client.turn()
        assert turn.full_output == "Once upon a time"
        assert [(r.role, r.text, r.interrupted) for r in h.turns.records] == [
            ("user", "Tell me a story", False),
            ("assistant", "Once upon a time", True),
        ]
        assert h.turns.amendments == []  # corrected before it was stored


async def test_truncation_after_the_response_amends_the_stored_turn() -> None:
    """Audio outruns playback: the barge-in lands after the response is complete (port of
    test_stored_turn_holds_only_what_the_caller_heard)."""
    async with engine() as h:
        h.provider.emit(
            TranscriptDelta("input", "Tell me a story"),
            AgentAudio(b"\x00\x00" * 4800, "item1"),
            TranscriptDelta("output", "Once upon a time there was a gateway.", item_id="item1"),
            ResponseDone("item1"),
        )
        await h.client.turn()
        h.provider.emit(OutputTruncated("item1", 900, "Once upon a time"))
        await h.settled()
        assert h.turns.amendments == [(1, "Once upon a time")]
        assert [(r.role, r.text, r.interrupted) for r in h.turns.records] == [
            ("user", "Tell me a story", False),
            ("assistant", "Once upon a time", True),
        ]


async def test_truncation_of_an_unknown_item_changes_nothing() -> None:
    async with engine() as h:
        h.provider.emit(
            TranscriptDelta("output", "Hi.", item_id="a1"),
            ResponseDone("a1"),
            OutputTruncated("never-said", 100, "x"),
        )
        await h.client.turn()
        await h.settled()
        assert h.turns.amendments == [] and h.turns.transcript() == [("assistant", "Hi.")]


async def test_unfinished_turns_are_stored_in_order_when_the_session_ends() -> None:
    async with engine() as h:
        h.provider.emit(TranscriptDelta("output", GREETING, item_id="g"))
        await h.client.until("transcriptionUpdate")
        await h.send(CallerText("Are you there?"))
        h.conversation.end("client_stop")
        assert await h.ended() == "client_stop"
        assert h.turns.transcript() == [("assistant", GREETING), ("user", "Are you there?")]
        # Cut short or not, each stored turn counts: total_turns is the turns stored.
        assert h.turns.completed_turns == 2
        assert [r.interrupted for r in h.turns.records] == [True, False]
