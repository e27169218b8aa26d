"""All configuration, from ``KURA_*`` environment variables and an optional ``.env`` file.

Nothing below ``gateway.cli`` reads the environment: the CLI builds one ``Settings``
and hands it down.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationInfo, field_validator
from pydantic_settings import NoDecode, SettingsConfigDict

from config.telephony_settings import TelephonySettings, url_problem

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
# The drivers Kura installs; SQLAlchemy's defaults for these schemes (psycopg, pysqlite) are
# synchronous and absent, and failed with a 35-line traceback ending in "No module named ...".
DATABASE_SCHEMES = {"sqlite+aiosqlite": "sqlite", "postgresql+asyncpg": "postgresql"}
_DATABASE_HINTS = {
    "postgresql": "postgresql+asyncpg",
    "postgres": "postgresql+asyncpg",
    "postgresql+psycopg": "postgresql+asyncpg",
    "postgresql+psycopg2": "postgresql+asyncpg",
    "sqlite": "sqlite+aiosqlite",
}
REDIS_SCHEMES = ("redis", "rediss", "unix")


class Settings(TelephonySettings):
    """Gateway configuration; every field maps to ``KURA_<FIELD>`` (the carriers' and calls'
    own in ``TelephonySettings``)."""

    model_config = SettingsConfigDict(
        env_prefix="KURA_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    database_url: str = Field(
        default="sqlite+aiosqlite:///./kura.db",
        description="SQLAlchemy URL: `sqlite+aiosqlite:///…` or `postgresql+asyncpg://…`.",
    )
    redis_url: str | None = Field(
        default=None,
        description="Shared state across nodes (`redis://…`); unset keeps it in-process.",
    )
    host: str = Field(
        default="127.0.0.1",
        description="Address to listen on (`0.0.0.0` for every interface; `--host` overrides).",
    )
    port: int = Field(
        default=8080, ge=0, le=65535, description="Port to listen on (`--port` overrides)."
    )
    public_url: str | None = Field(
        default=None,
        description="How carriers and apps reach this gateway (`https://…` gives `wss://` "
        "WebSocket URLs); unset: `http://<host>:<port>`.",
    )
    bootstrap_api_key: SecretStr | None = Field(
        default=None,
        description="Insert exactly this key, with every permission, at start; it must have "
        "the `kura_live_…` shape with its checksum (`kura keys generate` prints one).",
    )
    log_level: str = Field(
        default="INFO",
        description="`debug`, `info`, `warning`, `error` or `critical`; logs are JSON lines "
        "on stderr, with numbers, text and credentials redacted.",
    )

    # Several nodes (shared state in Redis) and shutdown
    redis_key_prefix: str = Field(
        default="kura:",
        description="Prefix of every Redis key and channel (several gateways can share one Redis).",
    )
    ownership_ttl_s: float = Field(
        default=15.0,
        gt=0,
        description="A node's claim on a live session lapses this long after its last refresh.",
    )
    ownership_refresh_s: float = Field(
        default=5.0,
        gt=0,
        description="How often a node refreshes the claims it holds (below the TTL).",
    )
    control_poll_s: float = Field(
        default=2.0,
        gt=0,
        description="How often a node checks the database for its sessions ended elsewhere "
        "(the fallback when a pub/sub end request is missed).",
    )
    node_url: str | None = Field(
        default=None,
        description="How the other nodes reach this one (`http://10.0.0.5:8080`), advertised "
        "in Redis: a resume, REST chat message or monitor request that reaches another node is "
        "forwarded here. "
        "Unset: such requests get 401/409 on the other nodes.",
    )
    node_secret: SecretStr | None = Field(
        default=None,
        description="Shared by every node: signs node-to-node requests (HMAC-SHA256; at least "
        "32 characters). Unset: nodes neither forward nor accept forwarded requests.",
    )
    drain_timeout_s: float = Field(
        default=30.0,
        ge=0,
        description="On SIGTERM, how long live sessions may run on before they are ended "
        "(`0`: at once); give the orchestrator a grace period above it.",
    )

    http_header_timeout_s: float = Field(
        default=10.0,
        gt=0,
        description="Seconds a connection has to send a request's headers, from its opening "
        "or from the previous answer (also the idle keep-alive: behind a load balancer, set "
        "its idle timeout below this).",
    )
    http_body_timeout_s: float = Field(
        default=10.0,
        gt=0,
        description="Seconds a client has to send a request body (at most 64 KiB); slower "
        "bodies get 408 and the connection is closed.",
    )

    # Sessions
    session_connect_timeout_s: float = Field(
        default=300.0, gt=0, description="How long a created session waits for its WebSocket."
    )
    session_token_ttl_s: float = Field(
        default=300.0,
        gt=0,
        description="Lifetime of the per-session token in `websocket_url` (bounded by the "
        "session's expiry).",
    )
    ws_max_message_bytes: int = Field(
        default=64 * 1024,
        ge=1024,
        description="Largest client frame (bigger closes with 1009); a second of 24 kHz "
        "audio as base64 JSON fits.",
    )
    resume_grace_s: float = Field(
        default=30.0,
        ge=0,
        le=3600,
        description="How long a session whose WebSocket dropped without `stopSession` lives "
        "on, waiting for a resume (`resumeToken`); the session's `resume_grace_s` overrides "
        "it. `0`: a drop ends the session at once.",
    )
    resume_buffer_bytes: int = Field(
        default=1024 * 1024,
        ge=64 * 1024,
        description="Agent audio (as sent, base64 JSON) each app session keeps for a resume: "
        "about 16 s per MiB. Older audio is dropped first; a resume that needs it is refused "
        "(409) unless it asks `replayAudio=false`.",
    )
    default_rate_limit_per_minute: int = Field(
        default=60, ge=1, description="Limit for requests without a valid key, per address."
    )
    transcript_retention_days: int | None = Field(
        default=None,
        ge=1,
        le=36_500,
        description="Delete transcript turns older than this many days (swept a minute after "
        "start, then hourly, on every node); unset: keep them.",
    )
    # NoDecode: the raw text reaches the validator below, which explains a bad value in one
    # line; pydantic-settings' own JSON decoding failed with a 41-line SettingsError.
    allowed_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Browser origins allowed to use secret keys (REST CORS and session "
        "WebSockets), besides each key's own list and the gateway's public origin; any other "
        'origin gets 403. `["*"]`: any origin for secret keys.',
    )
    publishable_rate_limit_per_address: int = Field(
        default=30,
        ge=1,
        description="Requests per minute one client address may make with a publishable key.",
    )

    # Providers
    openai_api_key: SecretStr | None = Field(
        default=None, description="OpenAI API key, for assistants with provider `openai`."
    )
    openai_realtime_url: str = Field(
        default="wss://api.openai.com/v1/realtime", description="OpenAI Realtime endpoint."
    )
    gemini_api_key: SecretStr | None = Field(
        default=None, description="Gemini API key, for assistants with provider `gemini`."
    )
    gemini_live_url: str = Field(
        default=(
            "wss://generativelanguage.googleapis.com/ws/"
            "google.ai.generativelanguage.v1beta.GenerativeService.BidiGenerateContent"
        ),
        description="Gemini Live endpoint.",
    )
    tts_command: str | None = Field(
        default=None,
        description="Synthesiser for the local provider; default: `espeak-ng` when installed "
        "(`off`: text only).",
    )

    # Runtime
    event_loop: Literal["auto", "uvloop", "asyncio"] = Field(
        default="auto",
        description="`auto`: uvloop where it is installed (Linux, macOS), else asyncio's own; "
        "`uvloop` or `asyncio` force one.",
    )

    # Observability
    tracing: Literal["off", "otlp"] = Field(
        default="off",
        description="`otlp`: OpenTelemetry spans to the OTLP/HTTP exporter that the standard "
        "`OTEL_*` variables configure (needs `pip install 'kura-gateway[tracing]'`).",
    )
    metrics_token: SecretStr | None = Field(
        default=None,
        description="Bearer token for `/metrics`, required from every address when set; unset "
        "serves it only to loopback clients that no proxy forwarded.",
    )

    # Tool webhooks
    webhook_secret: SecretStr | None = Field(
        default=None,
        description="Signs tool webhook deliveries (`X-Kura-Signature`); unset disables "
        "webhook tools.",
    )
    webhook_timeout_s: float = Field(
        default=5.0, gt=0, le=60, description="Time-out of one tool webhook delivery."
    )

    # Recordings
    recordings_dir: str = Field(
        default="./recordings",
        description="Directory of session recordings (WAV) for assistants with `recording` on.",
    )
    events_retry_base_s: float = Field(
        default=5.0,
        gt=0,
        description="First retry delay of a post-call event; it doubles per attempt, up to "
        "10 minutes.",
    )
    events_give_up_s: float = Field(
        default=86_400.0,
        ge=3600,
        description="How long a post-call event is retried before it is given up (at least an "
        "hour).",
    )
    recordings_s3_bucket: str | None = Field(
        default=None,
        description="Keep recordings in this S3-compatible bucket instead of "
        "`KURA_RECORDINGS_DIR` (which then only spools them during calls); needs the `s3` extra.",
    )
    recordings_s3_prefix: str = Field(
        default="recordings/", description="Key prefix in the bucket."
    )
    recordings_s3_endpoint_url: str | None = Field(
        default=None, description="S3-compatible endpoint (MinIO, R2, …); unset: AWS."
    )
    recordings_s3_region: str = Field(default="us-east-1", description="The bucket's region.")
    recordings_s3_access_key_id: str | None = Field(
        default=None, description="S3 access key id (unset: the standard AWS credential chain)."
    )
    recordings_s3_secret_access_key: SecretStr | None = Field(
        default=None, description="S3 secret access key."
    )
    recording_retention_days: int = Field(
        default=90,
        ge=1,
        description="Days a recording is kept unless its assistant says otherwise; a periodic "
        "sweep deletes older ones.",
    )

    # Carriers
    @field_validator("ownership_refresh_s")
    @classmethod
    def _refresh_within_ttl(cls, value: float, info: ValidationInfo) -> float:
        # A claim refreshed less often than it lapses would be swept while its node is alive.
        ttl = info.data.get("ownership_ttl_s")
        if ttl is not None and value >= ttl:
            raise ValueError("must be shorter than KURA_OWNERSHIP_TTL_S")
        return value

    @field_validator("public_url")
    @classmethod
    def _public_url(cls, value: str | None) -> str | None:
        # Without a scheme, websocket_url came out as "kura.example.com/api/…".
        if not value:
            return None
        if problem := url_problem(value, ("http", "https"), "https://kura.example.com"):
            raise ValueError(problem)
        return value.rstrip("/")

    @field_validator("*", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: Any, info: ValidationInfo) -> Any:
        # Compose and Kubernetes templates pass an optional variable left blank as "": for a
        # setting that may be unset, that means unset (not an empty key or URL).
        field = cls.model_fields[info.field_name or ""]
        return None if value == "" and field.default is None else value

    @field_validator("node_url")
    @classmethod
    def _node_url(cls, value: str | None) -> str | None:
        if not value:
            return None
        if problem := url_problem(value, ("http", "https"), "http://10.0.0.5:8080"):
            raise ValueError(problem)
        return value.rstrip("/")

    @field_validator("node_secret")
    @classmethod
    def _node_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < 32:
            raise ValueError("must be at least 32 characters (e.g. `openssl rand -hex 32`)")
        return value

    @field_validator("redis_url")
    @classmethod
    def _redis_url(cls, value: str | None) -> str | None:
        if not value:
            return None
        if urlsplit(value).scheme not in REDIS_SCHEMES:
            raise ValueError(
                f"must start with redis://, rediss:// or unix://, e.g. redis://redis:6379/0 "
                f"(got a {urlsplit(value).scheme or 'scheme-less'} URL)"
            )
        return value

    @field_validator("openai_realtime_url", "gemini_live_url")
    @classmethod
    def _websocket_url(cls, value: str) -> str:
        if problem := url_problem(value, ("wss", "ws"), "wss://api.example.com/v1/realtime"):
            raise ValueError(problem)
        return value

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str) -> str:
        # Only the scheme is named in errors: the rest may carry a password.
        scheme = value.partition("://")[0].lower() if "://" in value else ""
        if scheme in DATABASE_SCHEMES:
            return value
        if hint := _DATABASE_HINTS.get(scheme):
            raise ValueError(f"use {hint}://… (the async driver Kura installs), not {scheme}://…")
        raise ValueError(
            "must be sqlite+aiosqlite:///path/kura.db or postgresql+asyncpg://user:pass@host/db"
            f" (got {scheme + '://…' if scheme else 'no scheme'})"
        )

    @field_validator("log_level")
    @classmethod
    def _log_level(cls, value: str) -> str:
        level = value.strip().upper()
        if level not in LOG_LEVELS:
            known = ", ".join(name.lower() for name in LOG_LEVELS)
            raise ValueError(f"must be one of {known} (got {value!r})")
        return level

    @field_validator("allowed_origins", mode="before")
    @classmethod
    def _allowed_origins(cls, value: Any) -> Any:
        example = "'[\"https://app.example.com\"]'"
        if isinstance(value, str):
            try:
                value = json.loads(value) if value.strip() else []
            except ValueError:
                raise ValueError(f"must be a JSON list of origins, e.g. {example}") from None
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise ValueError(f"must be a JSON list of origins, e.g. {example}")
        for origin in value:
            if origin == "*":
                continue  # any origin for secret keys: an explicit opt-out of the check
            if problem := url_problem(origin, ("https", "http"), "https://app.example.com"):
                raise ValueError(f"each origin {problem}")
        return value

    @property
    def effective_public_url(self) -> str:
        """The base URL clients use to reach us (``KURA_PUBLIC_URL`` or ``http://host:port``)."""
        if self.public_url:
            return self.public_url
        host = "127.0.0.1" if self.host in {"0.0.0.0", "::", ""} else self.host  # noqa: S104
        return f"http://{host}:{self.port}"

    @property
    def public_ws_url(self) -> str:
        """``effective_public_url`` with ``ws``/``wss`` in place of ``http``/``https``."""
        base = self.effective_public_url
        if base.startswith("https://"):
            return "wss://" + base[len("https://") :]
        if base.startswith("http://"):
            return "ws://" + base[len("http://") :]
        return base
