"""Who may see what: users and roles from the configuration, hashed passwords, signed session cookies.

Design (README, "Access"):

- Users live in the hub's YAML (``access.users``) with a role (``viewer``, ``supervisor``, ``admin``) and a
  password hash made by ``onestop-hub hash-password`` (scrypt, a random salt per user). No password is ever
  stored or logged in clear.
- A browser logs in once (``POST /api/v1/auth/login``) and gets a session cookie: the user's name, role,
  expiry and a fingerprint of the password hash, signed with HMAC-SHA256. Changing a user's password or role
  in the configuration invalidates their sessions at the next restart. ``HttpOnly``, ``SameSite=Strict`` and,
  when the hub serves TLS, ``Secure``. Scripts may send HTTP Basic instead (``curl -u name:password``).
- A hub that listens only on loopback and has no user stays open to this machine (a developer's, the test
  suite's) and says so in its log; a hub listening beyond loopback refuses to start without users.
- ``access.public_units`` opens a read-only view of some units to anyone (the TV in a centre's hall): their
  live board, day figures, charts, alerts and live stream, nothing else.

The decision is made by one ASGI middleware in front of every route, so routers added later are covered too:
static files of the dashboard carry no data and are served to anyone; ``/api/…`` needs a user whose role
ranks at least the route's (the table ``ROUTE_ROLES``).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import ipaddress
import json
import logging
import os
import re
import secrets
import time
from collections import deque
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from protocol.errors import ConfigError
from protocol.topics import IDENTIFIER_PATTERN

logger = logging.getLogger(__name__)

SESSION_COOKIE = "onestop_session"
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
_HASH_PATTERN = re.compile(r"^scrypt\$(\d+)\$(\d+)\$(\d+)\$([A-Za-z0-9+/=]+)\$([A-Za-z0-9+/=]+)$")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class AccessConfigError(ConfigError):
    """The access settings do not allow the hub to start as configured."""


class Role(StrEnum):
    """What a user may see; each role includes the ones before it."""

    VIEWER = "viewer"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        """1 for viewer, 2 for supervisor, 3 for admin."""
        return {Role.VIEWER: 1, Role.SUPERVISOR: 2, Role.ADMIN: 3}[self]


# Route prefix → the lowest role that may use it; the longest matching prefix wins. Anything else under
# /api/ needs a viewer.
ROUTE_ROLES: tuple[tuple[str, Role], ...] = (
    ("/api/v1/rejected", Role.ADMIN),
    ("/api/v1/health", Role.SUPERVISOR),
    ("/api/v1/reports", Role.SUPERVISOR),
    # The evaluation pack is personnel data: the personnel department (admin), not every supervisor.
    ("/api/v1/reports/evaluation", Role.ADMIN),
    ("/docs", Role.VIEWER),
    ("/redoc", Role.VIEWER),
    ("/openapi.json", Role.VIEWER),
)
OPEN_PREFIXES = ("/api/v1/auth/",)
# What a public unit's view may read without a login: (path pattern, whether ?site= must name the unit).
_PUBLIC_UNIT_PATH = re.compile(r"^/api/v1/sites/([a-z0-9][a-z0-9-]{0,62})/(live|stats|hours|days|hall|hall/call\.wav)$")
_PUBLIC_BY_QUERY = ("/api/v1/stream", "/api/v1/alerts")
_PUBLIC_ALWAYS = ("/api/v1/dashboard/config",)


def hash_password(password: str, salt: bytes | None = None) -> str:
    """A storable hash of ``password``: ``scrypt$N$r$p$salt$hash`` (base64), with a random salt.

    Raises:
        ValueError: the password is empty.
    """
    if not password:
        raise ValueError("an empty password cannot be hashed")
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, dklen=32)
    encode = base64.b64encode
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${encode(salt).decode()}${encode(digest).decode()}"


def verify_password(password: str, stored: str) -> bool:
    """Whether ``password`` matches a hash made by :func:`hash_password` (constant-time comparison)."""
    match = _HASH_PATTERN.match(stored)
    if match is None or not password:
        return False
    n, r, p = (int(match.group(i)) for i in (1, 2, 3))
    try:
        salt = base64.b64decode(match.group(4))
        expected = base64.b64decode(match.group(5))
        digest = hashlib.scrypt(
            password.encode(), salt=salt, n=n, r=r, p=p, dklen=len(expected), maxmem=256 * 1024 * 1024
        )
    except (ValueError, binascii.Error):
        return False
    return hmac.compare_digest(digest, expected)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class UserEntry(_Strict):
    """One person who may log in to the dashboard and the API."""

    name: str = Field(pattern=r"^[A-Za-z0-9._@-]{1,64}$", description="Login name.")
    role: Role = Field(description="viewer, supervisor or admin.")
    password_hash: str = Field(description="Made by `onestop-hub hash-password`; never the password itself.")

    @field_validator("password_hash")
    @classmethod
    def _a_hash(cls, value: str) -> str:
        if not _HASH_PATTERN.match(value):
            raise ValueError("not a password hash: make one with `onestop-hub hash-password`")
        return value


class AccessSettings(_Strict):
    """Logins, roles and the public read-only view."""

    users: list[UserEntry] = Field(default_factory=list, description="Who may log in; none: open on loopback only.")
    public_units: list[str] = Field(
        default_factory=list, description="Unit ids whose live board anyone may see read-only (a TV in the hall)."
    )
    session_secret_env: str = Field(
        "ONESTOP_HUB_SESSION_SECRET",
        description="Environment variable with the key that signs session cookies; random per start if unset.",
    )
    session_hours: float = Field(12, gt=0, le=24 * 31, description="How long a login lasts.")
    tls_cert_file: Path | None = Field(None, description="Serve HTTPS with this certificate (PEM).")
    tls_key_file: Path | None = Field(None, description="The certificate's private key (PEM).")
    max_failed_logins: int = Field(10, ge=1, description="Failed logins from one address per 10 minutes.")

    @field_validator("public_units")
    @classmethod
    def _unit_ids(cls, value: list[str]) -> list[str]:
        bad = [unit for unit in value if not re.fullmatch(IDENTIFIER_PATTERN, unit)]
        if bad:
            raise ValueError(f"not unit ids: {', '.join(bad)}")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> AccessSettings:
        names = [user.name for user in self.users]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(f"user names repeated: {', '.join(repeated)}")
        if (self.tls_cert_file is None) != (self.tls_key_file is None):
            raise ValueError("give both tls_cert_file and tls_key_file, or neither")
        return self

    @property
    def tls(self) -> bool:
        """Whether the hub serves HTTPS itself."""
        return self.tls_cert_file is not None


def is_loopback_host(host: str) -> bool:
    """Whether a listen address only accepts connections from this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is asking: a user, the open developer mode, or an anonymous visitor of the public view."""

    name: str | None
    role: Role | None

    @property
    def authenticated(self) -> bool:
        """Whether this is a logged-in user (or the open mode)."""
        return self.role is not None

    def may(self, needed: Role) -> bool:
        """Whether the principal's role is at least ``needed``."""
        return self.role is not None and self.role.rank >= needed.rank


ANONYMOUS = Principal(None, None)
OPEN_MODE = Principal("local", Role.ADMIN)


class AccessPolicy:
    """Users, sessions and the decision for each request.

    Raises (when built):
        AccessConfigError: the hub would listen beyond loopback with no user configured.
    """

    def __init__(self, settings: AccessSettings, listen_host: str, clock: Callable[[], float] = time.time) -> None:
        self.settings = settings
        self._users = {user.name: user for user in settings.users}
        self._clock = clock
        self.open = not self._users
        if self.open and not is_loopback_host(listen_host):
            raise AccessConfigError(
                f"the hub would listen on {listen_host} with no user configured: anyone on the network could see "
                "every unit. Add users under access.users (hash passwords with `onestop-hub hash-password`), or "
                "listen on 127.0.0.1."
            )
        secret = os.environ.get(settings.session_secret_env, "")
        self._key = hashlib.sha256(secret.encode()).digest() if secret else secrets.token_bytes(32)
        self._failures: dict[str, deque[float]] = {}
        if self.open:
            logger.warning(
                "no users configured and listening on %s only: the dashboard and API are open to anyone on this "
                "machine, without login",
                listen_host,
            )
        else:
            if not secret:
                logger.warning(
                    "%s is not set: sessions are signed with a key made at start-up and end when the hub restarts",
                    settings.session_secret_env,
                )
            if not settings.tls and not is_loopback_host(listen_host):
                logger.warning(
                    "the hub serves plain HTTP on %s: put it behind a TLS reverse proxy, or set "
                    "access.tls_cert_file and tls_key_file, so that passwords and cookies never cross the network "
                    "in clear",
                    listen_host,
                )
            logger.info(
                "login required: %d user(s); public units: %s", len(self._users), settings.public_units or "none"
            )

    # -- sessions ------------------------------------------------------------------------------------------

    def login(self, name: str, password: str, client: str) -> str | None:
        """A signed session token for valid credentials, else None (failures are throttled per client)."""
        user = self._users.get(name)
        if user is not None and verify_password(password, user.password_hash):
            self._failures.pop(client, None)
            return self._token(user)
        logger.warning("failed login for %r from %s", name[:64], client)
        self._failures.setdefault(client, deque()).append(self._clock())
        return None

    def throttled(self, client: str) -> bool:
        """Whether ``client`` failed too many logins in the last ten minutes."""
        recent = self._failures.get(client)
        if not recent:
            return False
        while recent and recent[0] < self._clock() - 600:
            recent.popleft()
        return len(recent) >= self.settings.max_failed_logins

    def _token(self, user: UserEntry) -> str:
        expires = int(self._clock() + self.settings.session_hours * 3600)
        body = json.dumps([user.name, user.role.value, expires, _fingerprint(user)], separators=(",", ":"))
        encoded = base64.urlsafe_b64encode(body.encode()).decode().rstrip("=")
        return f"{encoded}.{self._sign(encoded)}"

    def _sign(self, encoded: str) -> str:
        return hmac.new(self._key, encoded.encode(), hashlib.sha256).hexdigest()

    def principal_from_token(self, token: str) -> Principal | None:
        """The user a session token names, if it is genuine, unexpired and still matches the configuration."""
        encoded, _, signature = token.partition(".")
        if not signature or not hmac.compare_digest(signature, self._sign(encoded)):
            return None
        try:
            name, role, expires, fingerprint = json.loads(base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)))
        except (ValueError, binascii.Error):
            return None
        user = self._users.get(name)
        if user is None or user.role.value != role or expires < self._clock() or fingerprint != _fingerprint(user):
            return None
        return Principal(user.name, user.role)

    def principal_from_basic(self, header: str) -> Principal | None:
        """The user named by an ``Authorization: Basic`` header with the right password."""
        try:
            decoded = base64.b64decode(header.removeprefix("Basic ").strip()).decode()
        except (ValueError, binascii.Error, UnicodeDecodeError):
            return None
        name, _, password = decoded.partition(":")
        user = self._users.get(name)
        if user is None or not verify_password(password, user.password_hash):
            return None
        return Principal(user.name, user.role)

    def identify(self, headers: dict[str, str]) -> Principal:
        """Who sent a request with these (lower-cased) headers."""
        if self.open:
            return OPEN_MODE
        authorization = headers.get("authorization", "")
        if authorization.startswith("Basic "):
            return self.principal_from_basic(authorization) or ANONYMOUS
        token = _cookie(headers.get("cookie", ""), SESSION_COOKIE)
        if token:
            return self.principal_from_token(token) or ANONYMOUS
        return ANONYMOUS

    # -- decisions -----------------------------------------------------------------------------------------

    def required_role(self, path: str) -> Role | None:
        """The lowest role a path needs; None for what anyone may fetch (the dashboard's files, login)."""
        if path.startswith(OPEN_PREFIXES):
            return None
        best: tuple[int, Role] | None = None
        for prefix, role in ROUTE_ROLES:
            if path.startswith(prefix) and (best is None or len(prefix) > best[0]):
                best = (len(prefix), role)
        if best is not None:
            return best[1]
        return Role.VIEWER if path.startswith("/api/") else None

    def public_allows(self, method: str, path: str, query: dict[str, list[str]]) -> bool:
        """Whether an anonymous visitor may make this request under the public units."""
        public = self.settings.public_units
        if not public or method not in ("GET", "HEAD"):
            return False
        if path in _PUBLIC_ALWAYS:
            return True
        match = _PUBLIC_UNIT_PATH.match(path)
        if match:
            return match.group(1) in public
        if path in _PUBLIC_BY_QUERY:
            return query.get("site", [""])[0] in public
        return False

    def decide(self, method: str, path: str, query: dict[str, list[str]], principal: Principal) -> int:
        """HTTP status for a request: 200 to go ahead, 401 to log in, 403 when the role is too low."""
        needed = self.required_role(path)
        if needed is None or principal.may(needed):
            return 200
        if not principal.authenticated and self.public_allows(method, path, query):
            return 200
        return 403 if principal.authenticated else 401


def _fingerprint(user: UserEntry) -> str:
    return hashlib.sha256(user.password_hash.encode()).hexdigest()[:16]


def _cookie(header: str, name: str) -> str | None:
    for part in header.split(";"):
        key, _, value = part.strip().partition("=")
        if key == name:
            return value
    return None


class AccessMiddleware:
    """ASGI middleware: identifies the caller, puts it in ``request.state.principal``, refuses what it may
    not see with 401 or 403 (JSON), and lets the rest through untouched (streams included)."""

    def __init__(self, app: ASGIApp, policy: AccessPolicy) -> None:
        self.app = app
        self.policy = policy

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {key.decode("latin-1").lower(): value.decode("latin-1") for key, value in scope["headers"]}
        principal = self.policy.identify(headers)
        scope.setdefault("state", {})["principal"] = principal
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        status = self.policy.decide(scope["method"], scope["path"], query, principal)
        if status == 200:
            await self.app(scope, receive, send)
            return
        detail = "login required" if status == 401 else "your role may not see this"
        body = json.dumps({"detail": detail}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": body})
