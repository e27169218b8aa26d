"""All configuration, from ``KURA_*`` environment variables and an optional ``.env`` file.

Nothing below ``gateway.cli`` reads the environment: the CLI builds one ``Settings``
and hands it down.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Gateway configuration; every field maps to ``KURA_<FIELD>``."""

    model_config = SettingsConfigDict(
        env_prefix="KURA_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    database_url: str = "sqlite+aiosqlite:///./kura.db"
    redis_url: str | None = None
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    public_url: str | None = Field(
        default=None,
        description="How carriers and apps reach this gateway; defaults to http://<host>:<port>.",
    )
    bootstrap_api_key: SecretStr | None = None
    log_level: str = "INFO"

    # Several nodes (shared state in Redis) and shutdown
    redis_key_prefix: str = Field(
        default="kura:", description="Prefix of every Redis key and channel this gateway uses."
    )
    ownership_ttl_s: float = Field(
        default=15.0,
        gt=0,
        description="A node's claim on a live session lapses this long after its last refresh.",
    )
    ownership_refresh_s: float = Field(
        default=5.0, gt=0, description="How often a node refreshes the claims it holds."
    )
    control_poll_s: float = Field(
        default=2.0,
        gt=0,
        description="How often a node checks the database for its sessions ended elsewhere "
        "(the fallback when a pub/sub end request is missed).",
    )
    drain_timeout_s: float = Field(
        default=30.0,
        ge=0,
        description="On SIGTERM, how long live sessions may run on before they are ended.",
    )

    # Sessions
    session_connect_timeout_s: float = Field(default=300.0, gt=0)
    session_token_ttl_s: float = Field(
        default=300.0,
        gt=0,
        description="Lifetime of the per-session token in websocket_url (bounded by expiry).",
    )
    ws_max_message_bytes: int = Field(default=256 * 1024, ge=1024)
    default_rate_limit_per_minute: int = Field(default=60, ge=1)
    allowed_origins: list[str] = Field(
        default_factory=list,
        description="Browser origins allowed to use secret keys (REST CORS and session "
        "WebSockets), besides each key's own list and the gateway's public origin; empty: any "
        "origin for keys that list none.",
    )
    publishable_rate_limit_per_address: int = Field(
        default=30,
        ge=1,
        description="Requests per minute one client address may make with a publishable key.",
    )

    # Providers
    openai_api_key: SecretStr | None = None
    openai_realtime_url: str = "wss://api.openai.com/v1/realtime"
    gemini_api_key: SecretStr | None = None
    gemini_live_url: str = (
        "wss://generativelanguage.googleapis.com/ws/"
        "google.ai.generativelanguage.v1beta.GenerativeService.BidiGenerateContent"
    )
    tts_command: str | None = Field(
        default=None,
        description="Synthesiser for the local provider; default: espeak-ng when installed.",
    )

    # Runtime
    event_loop: Literal["auto", "uvloop", "asyncio"] = Field(
        default="auto",
        description="auto: uvloop where it is installed (Linux, macOS), else asyncio's own.",
    )

    # Observability
    metrics_token: SecretStr | None = Field(
        default=None,
        description="Bearer token for /metrics; unset serves it to loopback clients only.",
    )

    # Tool webhooks
    webhook_secret: SecretStr | None = Field(
        default=None,
        description="Signs tool webhook deliveries (X-Kura-Signature); unset disables them.",
    )
    webhook_timeout_s: float = Field(default=5.0, gt=0, le=60)

    # Carriers
    twilio_account_sid: str | None = None
    twilio_auth_token: SecretStr | None = None
    call_media_token_ttl_s: float = Field(
        default=60.0,
        gt=0,
        le=600,
        description="Lifetime of the single-use token a call's media stream presents.",
    )
    webhook_answer_deadline_s: float = Field(
        default=5.0,
        gt=0,
        le=14,
        description="Past this, a voice webhook apologises and hangs up (Twilio waits 15 s).",
    )

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
    def _strip_trailing_slash(cls, value: str | None) -> str | None:
        return value.rstrip("/") if value else value

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
