"""Recordings in an S3-compatible bucket (AWS S3, MinIO, Ceph, R2, …), through aiobotocore.

The writer spools to a local file; when the session ends the file is uploaded as
``<prefix><session id>.wav`` and the spool file removed. ``GET …/recording`` streams the object
back; retention lists and deletes objects. Optional: ``pip install 'kura-gateway[s3]'``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from gateway.sessions.recordings_store import CHUNK_BYTES, StoredRecording, recording_name


@dataclass(frozen=True, slots=True)
class S3Location:
    bucket: str
    prefix: str
    endpoint_url: str | None
    region: str
    access_key_id: str | None
    secret_access_key: str | None


class S3Recordings:
    """The ``RecordingStorage`` of a bucket; spool files live in ``spool_dir``."""

    def __init__(self, location: S3Location, spool_dir: str | Path) -> None:
        # An optional dependency (the s3 extra): imported only when a bucket is configured.
        from aiobotocore.session import get_session  # type: ignore[import-untyped]
        from botocore.config import Config  # type: ignore[import-untyped]

        # Checksums only where S3 requires them: several S3-compatible stores refuse the
        # flexible checksums botocore adds by default since 1.36.
        self._config = Config(
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        )
        self._location = location
        self._spool = Path(spool_dir)
        self._session = get_session()

    def spool_path(self, session_id: str) -> Path:
        return self._spool / recording_name(session_id)

    async def stored(self, session_id: str) -> None:
        path = self.spool_path(session_id)
        body = await asyncio.to_thread(path.read_bytes)
        async with self._client() as s3:
            await s3.put_object(
                Bucket=self._location.bucket,
                Key=self._key(session_id),
                Body=body,
                ContentType="audio/wav",
            )
        await asyncio.to_thread(path.unlink)

    async def fetch(self, session_id: str) -> StoredRecording | None:
        client = self._client()
        s3 = await client.__aenter__()
        try:
            answer = await s3.get_object(Bucket=self._location.bucket, Key=self._key(session_id))
        except s3.exceptions.NoSuchKey:
            await client.__aexit__(None, None, None)
            return None
        except BaseException:
            await client.__aexit__(None, None, None)
            raise
        return StoredRecording(int(answer["ContentLength"]), _chunks(answer["Body"], client))

    async def delete(self, session_id: str) -> bool:
        async with self._client() as s3:
            try:
                await s3.head_object(Bucket=self._location.bucket, Key=self._key(session_id))
            except s3.exceptions.ClientError:
                return False
            await s3.delete_object(Bucket=self._location.bucket, Key=self._key(session_id))
        return True

    async def recorded(self) -> list[tuple[str, datetime]]:
        found: list[tuple[str, datetime]] = []
        async with self._client() as s3:
            pages = s3.get_paginator("list_objects_v2").paginate(
                Bucket=self._location.bucket, Prefix=self._location.prefix
            )
            async for page in pages:
                for item in page.get("Contents", []):
                    name = item["Key"][len(self._location.prefix) :]
                    if name.endswith(".wav") and "/" not in name:
                        found.append((name[: -len(".wav")], item["LastModified"]))
        return found

    def _key(self, session_id: str) -> str:
        return self._location.prefix + recording_name(session_id)

    def _client(self) -> Any:
        loc = self._location
        return self._session.create_client(
            "s3",
            region_name=loc.region,
            endpoint_url=loc.endpoint_url,
            aws_access_key_id=loc.access_key_id,
            aws_secret_access_key=loc.secret_access_key,
            config=self._config,
        )


async def _chunks(body: Any, client: Any) -> AsyncIterator[bytes]:
    """The object's bytes; the client is closed when they are read (or abandoned)."""
    try:
        async with body as stream:
            while chunk := await stream.read(CHUNK_BYTES):
                yield chunk
    finally:
        with contextlib.suppress(Exception):
            await client.__aexit__(None, None, None)
