"""API keys: `X-API-Key` on every /v1 route, roles read < ingest < admin.

Keys are kept as SHA-256 digests only and compared in constant time; a key never
appears in a log line or an error body.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from enum import IntEnum

from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler

API_KEY_HEADER = "X-API-Key"


class Role(IntEnum):
    READ = 1
    INGEST = 2
    ADMIN = 3


@dataclass(frozen=True)
class ApiKeys:
    digests: tuple[tuple[bytes, Role], ...]

    @classmethod
    def parse(cls, spec: str) -> ApiKeys:
        """From `key:role,key:role` (roles: read, ingest, admin)."""
        entries = []
        for part in filter(None, (p.strip() for p in spec.split(","))):
            key, _, role = part.rpartition(":")
            if not key or role.upper() not in Role.__members__:
                raise ValueError("ANALYTICS_API_KEYS entries are key:role with role in read, ingest, admin")
            entries.append((_digest(key), Role[role.upper()]))
        if not entries:
            raise ValueError("ANALYTICS_API_KEYS holds no key")
        return cls(tuple(entries))

    def role_of(self, presented: str | None) -> Role | None:
        if not presented:
            return None
        digest = _digest(presented)
        found = None
        for known, role in self.digests:  # no early exit: time does not depend on which key matched
            if hmac.compare_digest(known, digest):
                found = role
        return found

    def fingerprint(self, presented: str | None) -> str:
        """A stable, non-reversible id of a key, for per-key rate limiting."""
        return key_fingerprint(presented)


def key_fingerprint(presented: str | None) -> str:
    """A stable, non-reversible id of a key (64 bits of its digest): scopes per-key state."""
    return _digest(presented or "").hex()[:16]


def generate_key() -> str:
    return secrets.token_urlsafe(24)


def _digest(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()


def requires(minimum: Role):
    """A Litestar guard: 401 without a valid key, 403 with a key of a lower role."""

    async def guard(connection: ASGIConnection, _: BaseRouteHandler) -> None:  # async: no thread hop
        keys: ApiKeys = connection.app.state.api_keys
        role = keys.role_of(connection.headers.get(API_KEY_HEADER))
        if role is None:
            raise NotAuthorizedException(f"a valid {API_KEY_HEADER} header is required")
        if role < minimum:
            raise PermissionDeniedException(f"this route needs the {minimum.name.lower()} role")

    return guard
