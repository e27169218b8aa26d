"""A loopback fake of the S3 REST API, as much as the recording backend uses: PutObject,
GetObject, HeadObject, DeleteObject and ListObjectsV2, path-style, in memory.

It refuses requests not signed with AWS Signature V4 for its access key (403), as S3 does.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from xml.sax.saxutils import escape

from aiohttp import web

ACCESS_KEY_ID = "AKIDKURATEST"
SECRET_ACCESS_KEY = "kura-test-secret"


@dataclass
class StoredObject:
    body: bytes
    content_type: str
    last_modified: datetime


@dataclass
class FakeS3:
    objects: dict[tuple[str, str], StoredObject] = field(default_factory=dict)
    requests: list[str] = field(default_factory=list)

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._signed], client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{bucket}", self._bucket)
        app.router.add_route("*", "/{bucket}/{key:.+}", self._object)
        return app

    @web.middleware
    async def _signed(self, request: web.Request, handler: web.Handler) -> web.StreamResponse:
        auth = request.headers.get("Authorization", "")
        self.requests.append(f"{request.method} {request.path}")
        if not auth.startswith(f"AWS4-HMAC-SHA256 Credential={ACCESS_KEY_ID}/"):
            return _error(403, "AccessDenied", "Access Denied")
        return await handler(request)

    async def _object(self, request: web.Request) -> web.StreamResponse:
        where = (request.match_info["bucket"], request.match_info["key"])
        if request.method == "PUT":
            content_type = request.headers.get("Content-Type", "binary/octet-stream")
            self.objects[where] = StoredObject(await request.read(), content_type, _now())
            return web.Response(status=200, headers={"ETag": '"fake"'})
        if request.method == "DELETE":
            self.objects.pop(where, None)
            return web.Response(status=204)
        stored = self.objects.get(where)
        if stored is None:
            if request.method == "HEAD":
                return web.Response(status=404)
            return _error(404, "NoSuchKey", "The specified key does not exist.")
        headers = {
            "Content-Type": stored.content_type,
            "Content-Length": str(len(stored.body)),
            "Last-Modified": format_datetime(stored.last_modified, usegmt=True),
            "ETag": '"fake"',
        }
        if request.method == "HEAD":
            return web.Response(status=200, headers=headers)
        return web.Response(body=stored.body, headers=headers)

    async def _bucket(self, request: web.Request) -> web.Response:
        bucket, prefix = request.match_info["bucket"], request.query.get("prefix", "")
        keys = sorted(k for b, k in self.objects if b == bucket and k.startswith(prefix))
        contents = "".join(
            f"<Contents><Key>{escape(key)}</Key>"
            f"<LastModified>{self.objects[(bucket, key)].last_modified.isoformat()}</LastModified>"
            f"<Size>{len(self.objects[(bucket, key)].body)}</Size></Contents>"
            for key in keys
        )
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>'
            '<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
            f"<Name>{escape(bucket)}</Name><Prefix>{escape(prefix)}</Prefix>"
            f"<KeyCount>{len(keys)}</KeyCount><IsTruncated>false</IsTruncated>{contents}"
            "</ListBucketResult>"
        )
        return web.Response(text=body, content_type="application/xml")


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def _error(status: int, code: str, message: str) -> web.Response:
    body = f"<Error><Code>{code}</Code><Message>{message}</Message></Error>"
    return web.Response(status=status, text=body, content_type="application/xml")
