"""Stored rows → REST response models."""

from __future__ import annotations

from gateway.api.schemas import (
    AssistantRef,
    AssistantView,
    InterruptionFields,
    SessionView,
    ToolDefinition,
    TurnDetectionSettings,
    TurnView,
)
from gateway.store.models import Assistant, Session, Turn


def assistant_ref(assistant: Assistant) -> AssistantRef:
    return AssistantRef(id=assistant.id, name=assistant.name)


def assistant_view(row: Assistant) -> AssistantView:
    return AssistantView(
        id=row.id,
        name=row.name,
        provider=row.provider,
        model=row.model,
        voice=row.voice,
        instructions=row.instructions,
        greeting=row.greeting,
        language_code=row.language_code,
        tools=[ToolDefinition.model_validate(tool) for tool in row.tools],
        turn_detection=TurnDetectionSettings.model_validate(row.turn_detection),
        interruption=InterruptionFields.model_validate(row.interruption or {}),
        temperature=row.temperature,
        idle_timeout_s=row.idle_timeout_s,
        max_turns=row.max_turns,
        max_duration_s=row.max_duration_s,
        transfer_number=row.transfer_number,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def session_view(row: Session, assistant: AssistantRef) -> SessionView:
    return SessionView(
        session_id=row.id,
        status=row.status,
        mode=row.mode,
        channel=row.channel,
        assistant=assistant,
        phone_number=row.phone_number,
        contact_id=row.contact_id,
        language_code=row.language_code,
        metadata=row.meta,
        created_at=row.created_at,
        expires_at=row.expires_at,
        connected_at=row.connected_at,
        ended_at=row.ended_at,
        end_reason=row.end_reason,
        total_turns=row.total_turns,
    )


def turn_view(row: Turn) -> TurnView:
    return TurnView(
        seq=row.seq,
        role=row.role,
        text=row.text,
        started_at=row.started_at,
        ended_at=row.ended_at,
        interrupted=row.interrupted,
    )
