"""Stored rows → REST response models."""

from __future__ import annotations

from gateway.api.assistant_settings import (
    CallingHours,
    InterruptionFields,
    TransferDestination,
    TurnDetectionSettings,
)
from gateway.api.schemas import (
    AssistantRef,
    AssistantView,
    SessionView,
    ToolDefinition,
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
        fallback_provider=row.fallback_provider,
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
        resume_grace_s=row.resume_grace_s,
        transfer_number=row.transfer_number,
        transfer_destinations=[
            TransferDestination.model_validate(d) for d in row.transfer_destinations or []
        ],
        transfer_ring_timeout_s=row.transfer_ring_timeout_s,
        max_concurrent_calls=row.max_concurrent_calls,
        calling_hours=CallingHours.model_validate(row.calling_hours) if row.calling_hours else None,
        recording=row.recording,
        recording_retention_days=row.recording_retention_days,
        events_url=row.events_url,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def session_view(
    row: Session, assistant: AssistantRef, *, mean_latency_ms: float | None = None
) -> SessionView:
    until = row.ended_at or row.last_activity_at
    duration_ms = None
    if row.connected_at is not None and until is not None:
        duration_ms = max(round((until - row.connected_at).total_seconds() * 1000), 0)
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
        total_duration_ms=duration_ms,
        last_activity_at=row.last_activity_at,
        mean_latency_ms=None if mean_latency_ms is None else round(mean_latency_ms),
    )


def turn_view(row: Turn) -> TurnView:
    return TurnView(
        seq=row.seq,
        role=row.role,
        text=row.text,
        started_at=row.started_at,
        ended_at=row.ended_at,
        interrupted=row.interrupted,
        turn_id=row.turn_id,
        timestamp=row.started_at,
        duration_ms=row.duration_ms,
        latency_ms=row.latency_ms,
    )
