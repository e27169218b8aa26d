"""Which recording storage the settings ask for: a bucket if one is named, else a directory."""

from __future__ import annotations

from config import Settings
from gateway.sessions.recordings_s3 import S3Location, S3Recordings
from gateway.sessions.recordings_store import LocalRecordings, RecordingStorage


def recording_storage(settings: Settings) -> RecordingStorage:
    if not settings.recordings_s3_bucket:
        return LocalRecordings(settings.recordings_dir)
    secret = settings.recordings_s3_secret_access_key
    location = S3Location(
        bucket=settings.recordings_s3_bucket,
        prefix=settings.recordings_s3_prefix,
        endpoint_url=settings.recordings_s3_endpoint_url,
        region=settings.recordings_s3_region,
        access_key_id=settings.recordings_s3_access_key_id,
        secret_access_key=secret.get_secret_value() if secret else None,
    )
    return S3Recordings(location, settings.recordings_dir)
