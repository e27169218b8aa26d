"""The REST routes, each with what the OpenAPI document says of it: one table for both, so the
document cannot drift from what the server does."""

from __future__ import annotations

from aiohttp import web

from gateway.api import (
    admin_contacts,
    admin_keys,
    admin_numbers,
    app_session,
    assistants_api,
    calls_api,
    health_api,
    monitor_socket,
    node_forward,
    recordings_api,
    rest_chat_api,
    sessions_api,
)
from gateway.api.admin_schemas import (
    AssignNumberRequest,
    ContactDetail,
    ContactErased,
    ContactFields,
    ContactPage,
    ContactQuery,
    EraseQuery,
    NumberFields,
    NumberPage,
    NumberView,
    PageQuery,
)
from gateway.api.asyncapi import build_asyncapi
from gateway.api.call_schemas import CallPage, CallQuery, CallView, CreateCallRequest
from gateway.api.key_schemas import CreateKeyRequest, KeyCreated, KeyFields, KeyList, KeyView
from gateway.api.metrics_api import metrics_text
from gateway.api.monitor_schemas import MonitorStarted
from gateway.api.openapi import build_document, with_providers
from gateway.api.route_table import VERSION, Route
from gateway.api.schemas import (
    AssistantFields,
    AssistantList,
    AssistantQuery,
    AssistantView,
    ChatMessageRequest,
    ChatReply,
    CreateAssistantRequest,
    CreateSessionRequest,
    Health,
    SessionCreated,
    SessionPage,
    SessionView,
    Transcript,
)
from gateway.api.session_connect import connect_session, internal_resume
from gateway.context import context_of


async def health(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok", "version": VERSION})


async def openapi_document(request: web.Request) -> web.Response:
    providers = context_of(request).providers.names()
    return web.json_response(with_providers(build_document(ROUTES), providers))


async def asyncapi_document(request: web.Request) -> web.Response:
    return web.json_response(build_asyncapi(context_of(request).settings.public_ws_url))


ROUTES: tuple[Route, ...] = (
    Route("GET", "/api/v1/health", health, "Health check", "getHealth", response=Health,
          tags=("health",)),
    Route("GET", "/api/v1/health/live", health_api.liveness, "Liveness: the process answers",
          "getLiveness", response=health_api.Liveness, tags=("health",)),
    Route("GET", "/api/v1/health/ready", health_api.readiness,
          "Readiness: database, Redis and drain state (503 when this node should get no "
          "traffic)", "getReadiness", response=health_api.Readiness, tags=("health",),
          also=(503,)),
    Route("GET", "/api/v1/assistants", assistants_api.list_assistants, "List assistants",
          "listAssistants", response=AssistantList, query=AssistantQuery, tags=("assistants",)),
    Route("POST", "/api/v1/assistants", assistants_api.create_assistant, "Create an assistant",
          "createAssistant", 201, AssistantView, CreateAssistantRequest, tags=("assistants",)),
    Route("GET", "/api/v1/assistants/{assistant_id}", assistants_api.get_assistant,
          "Get assistant details", "getAssistant", response=AssistantView, tags=("assistants",)),
    Route("PATCH", "/api/v1/assistants/{assistant_id}", assistants_api.update_assistant,
          "Update an assistant", "updateAssistant", 200, AssistantView, AssistantFields,
          tags=("assistants",)),
    Route("DELETE", "/api/v1/assistants/{assistant_id}", assistants_api.delete_assistant,
          "Delete an assistant", "deleteAssistant", 204, tags=("assistants",)),
    Route("POST", "/api/v1/sessions", sessions_api.create_session, "Create session",
          "createSession", 201, SessionCreated, CreateSessionRequest),
    Route("GET", "/api/v1/sessions", sessions_api.list_sessions, "List sessions",
          "listSessions", response=SessionPage, query=sessions_api.SessionQuery),
    Route("GET", "/api/v1/sessions/{session_id}", sessions_api.get_session,
          "Get session status", "getSession", response=SessionView,
          query=sessions_api.SessionDetailQuery),
    Route("DELETE", "/api/v1/sessions/{session_id}", sessions_api.delete_session,
          "End session", "deleteSession", response=SessionView),
    Route("POST", "/api/v1/sessions/{session_id}/messages", rest_chat_api.post_message,
          "Send a chat message and get the reply (Accept: text/event-stream streams it as SSE)",
          "postMessage", 200, ChatReply, ChatMessageRequest),
    Route("GET", "/api/v1/sessions/{session_id}/transcript", sessions_api.get_transcript,
          "Get a session's transcript", "getTranscript", response=Transcript),
    Route("POST", "/api/v1/calls", calls_api.create_call,
          "Place an outbound call (send an Idempotency-Key header to retry safely)",
          "createCall", 201, CallView, CreateCallRequest, tags=("calls",), errors=(409, 502, 503)),
    Route("GET", "/api/v1/calls", calls_api.list_calls, "List calls, inbound and outbound",
          "listCalls", response=CallPage, query=CallQuery, tags=("calls",)),
    Route("GET", "/api/v1/calls/{call_id}", calls_api.get_call, "Get a call", "getCall",
          response=CallView, tags=("calls",)),
    Route("DELETE", "/api/v1/calls/{call_id}", calls_api.hang_up_call, "Hang up a call",
          "hangUpCall", response=CallView, tags=("calls",)),
    Route("POST", "/api/v1/sessions/{session_id}/monitor", monitor_socket.start_monitor,
          "Monitor a live session: a supervisor WebSocket URL with a single-use token (409 if "
          "the session is not live, or runs on a node this one cannot reach)", "monitorSession",
          201, MonitorStarted,
          errors=(409,)),
    Route("GET", "/api/v1/sessions/{session_id}/recording", recordings_api.get_recording,
          "Download a session's recording (audio/wav; dual: caller left, assistant right)",
          "getRecording"),
    Route("DELETE", "/api/v1/sessions/{session_id}/recording", recordings_api.delete_recording,
          "Delete a session's recording", "deleteRecording", 204),
    Route("GET", "/api/v1/admin/numbers", admin_numbers.list_numbers, "List phone numbers",
          "listNumbers", response=NumberPage, query=PageQuery, tags=("numbers",)),
    Route("POST", "/api/v1/admin/numbers", admin_numbers.assign_number,
          "Assign a phone number to an assistant", "assignNumber", 201, NumberView,
          AssignNumberRequest, tags=("numbers",)),
    Route("GET", "/api/v1/admin/numbers/{number_id}", admin_numbers.get_number,
          "Get a phone number", "getNumber", response=NumberView, tags=("numbers",)),
    Route("PATCH", "/api/v1/admin/numbers/{number_id}", admin_numbers.update_number,
          "Change a phone number's assistant, label or state", "updateNumber", 200, NumberView,
          NumberFields, tags=("numbers",)),
    Route("DELETE", "/api/v1/admin/numbers/{number_id}", admin_numbers.unassign_number,
          "Unassign a phone number", "unassignNumber", 204, tags=("numbers",)),
    Route("GET", "/api/v1/admin/contacts", admin_contacts.list_contacts, "List contacts",
          "listContacts", response=ContactPage, query=ContactQuery, tags=("contacts",)),
    Route("GET", "/api/v1/admin/contacts/{contact_id}", admin_contacts.get_contact,
          "Get a contact and its recent sessions", "getContact", response=ContactDetail,
          tags=("contacts",)),
    Route("DELETE", "/api/v1/admin/contacts/{contact_id}", admin_contacts.erase_contact,
          "Erase a contact with its sessions' transcripts (?erase=true)", "eraseContact",
          response=ContactErased, query=EraseQuery, tags=("contacts",)),
    Route("PATCH", "/api/v1/admin/contacts/{contact_id}", admin_contacts.update_contact,
          "Edit a contact", "updateContact", 200, ContactDetail, ContactFields,
          tags=("contacts",)),
    Route("GET", "/api/v1/admin/keys", admin_keys.list_keys, "List API keys (never secrets)",
          "listKeys", response=KeyList, tags=("keys",)),
    Route("POST", "/api/v1/admin/keys", admin_keys.create_key,
          "Create an API key; its secret is in this answer only", "createKey", 201, KeyCreated,
          CreateKeyRequest, tags=("keys",)),
    Route("GET", "/api/v1/admin/keys/{key_id}", admin_keys.get_key, "Get an API key",
          "getKey", response=KeyView, tags=("keys",)),
    Route("PATCH", "/api/v1/admin/keys/{key_id}", admin_keys.update_key,
          "Change a key's name, permissions, origins, scope or rate limit", "updateKey", 200,
          KeyView, KeyFields, tags=("keys",)),
    Route("DELETE", "/api/v1/admin/keys/{key_id}", admin_keys.revoke_key, "Revoke an API key",
          "revokeKey", 204, tags=("keys",)),
)  # fmt: skip


def add_routes(app: web.Application) -> None:
    app_session.install(app)
    node_forward.install(app)
    for route in ROUTES:
        app.router.add_route(route.method, route.path, route.handler)
    app.router.add_get("/api/v1/openapi.json", openapi_document)
    app.router.add_get("/api/v1/asyncapi.json", asyncapi_document)
    app.router.add_get("/metrics", metrics_text)
    app.router.add_get("/api/v1/sessions/{session_id}/connect", connect_session)
    # The internal door: only other nodes of this deployment, signed (gateway.api.node_auth).
    app.router.add_get("/internal/v1/sessions/{session_id}/resume", internal_resume)
    app.router.add_post(
        "/internal/v1/sessions/{session_id}/messages", rest_chat_api.internal_message
    )
    app.router.add_post(
        "/internal/v1/sessions/{session_id}/monitor", monitor_socket.internal_monitor
    )
    app.router.add_get(
        "/internal/v1/sessions/{session_id}/monitor/connect",
        monitor_socket.internal_monitor_session,
    )
    # The supervisor socket has a path of its own: GET on the POST resource would be ambiguous.
    app.router.add_get(
        "/api/v1/sessions/{session_id}/monitor/connect", monitor_socket.monitor_session
    )
