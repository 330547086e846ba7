"""Who may see what: users and roles from the configuration, hashed passwords, signed session cookies.

Design (README, "Access"):

- Users live in the hub's YAML (``access.users``) with a role (``viewer``, ``supervisor``, ``admin``) and a
  password hash made by ``onestop-hub hash-password`` (scrypt, a random salt per user). No password is ever
  stored or logged in clear.
- A browser logs in once (``POST /api/v1/auth/login``) and gets a session cookie: the user's name, role,
  expiry, a fingerprint of the password hash and a server-side session id, signed with HMAC-SHA256. Logging
  out ends that session on the server (``hub.sessions``); an admin's revoke ends all of a user's sessions;
  changing a user's password or role in the configuration invalidates their sessions at the next restart.
  ``HttpOnly``, ``SameSite=Strict`` and, when the hub serves TLS, ``Secure``. Scripts may send HTTP Basic
  instead (``curl -u name:password``): throttled like the login, verified in a worker thread (scrypt never
  runs on the event loop), and a verified header is remembered for a few minutes. The provincial command
  centre may use a read-only API key (``Authorization: Bearer …``, configured as a SHA-256 hash).
- A name that is not a user costs the same scrypt work as a wrong password, so names cannot be told apart by
  timing. Proxy headers (``X-Forwarded-For``) count only from ``access.trusted_proxies``.
- A hub that listens only on loopback and has no user stays open to this machine (a developer's, the test
  suite's) and says so in its log; a hub listening beyond loopback refuses to start without users.
- ``access.public_units`` opens a read-only view of some units to anyone (the TV in a centre's hall): their
  live board, day figures, charts, alerts and live stream, nothing else.

The decision is made by one ASGI middleware in front of every route, so routers added later are covered too:
static files of the dashboard carry no data and are served to anyone; ``/api/…`` needs a user whose role
ranks at least the route's (the table ``ROUTE_ROLES``).
"""

from __future__ import annotations

import asyncio
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
import weakref
from collections import deque
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import anyio
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from hub.sessions import SessionStore
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
    # Who read what, sessions of other users, comment texts and their erasure: admins only.
    ("/api/v1/audit", Role.ADMIN),
    ("/api/v1/access", Role.ADMIN),
    ("/api/v1/feedback", Role.ADMIN),
    ("/docs", Role.VIEWER),
    ("/redoc", Role.VIEWER),
    ("/openapi.json", Role.VIEWER),
    ("/api/v1/loss", Role.SUPERVISOR),
    # Alert recipients' addresses and the delivery log (the router checks the role as well).
    ("/api/v1/notify", Role.SUPERVISOR),
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


class ApiKeyEntry(_Strict):
    """A read-only key for a program (the provincial command centre): ``Authorization: Bearer <key>``."""

    name: str = Field(pattern=r"^[A-Za-z0-9._@-]{1,64}$", description="Who holds the key (shown in the audit log).")
    key_hash: str = Field(
        pattern=r"^sha256\$[0-9a-f]{64}$", description="Made by `onestop-hub api-key`; never the key itself."
    )
    role: Role = Field(Role.SUPERVISOR, description="viewer or supervisor; a key never has admin rights.")

    @field_validator("role")
    @classmethod
    def _not_admin(cls, value: Role) -> Role:
        if value is Role.ADMIN:
            raise ValueError("an API key is read-only: viewer or supervisor, never admin")
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
    trusted_proxies: list[str] = Field(
        default_factory=list,
        description="Addresses or networks of reverse proxies whose X-Forwarded-For is believed; none by default.",
    )
    api_keys: list[ApiKeyEntry] = Field(default_factory=list, description="Read-only keys for programs.")
    max_streams_per_user: int = Field(4, ge=1, le=1000, description="Live streams open at once per user or address.")
    max_streams_total: int = Field(200, ge=1, le=100_000, description="Live streams open at once in all.")

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for entry in value:
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                raise ValueError(f"not an address or network: {entry!r}") from None
        return value

    @field_validator("public_units")
    @classmethod
    def _unit_ids(cls, value: list[str]) -> list[str]:
        bad = [unit for unit in value if not re.fullmatch(IDENTIFIER_PATTERN, unit)]
        if bad:
            raise ValueError(f"not unit ids: {', '.join(bad)}")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> AccessSettings:
        names = [user.name for user in self.users] + [key.name for key in self.api_keys]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(f"user or API key names repeated: {', '.join(repeated)}")
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
    read_only: bool = False

    @property
    def authenticated(self) -> bool:
        """Whether this is a logged-in user (or the open mode)."""
        return self.role is not None

    def may(self, needed: Role) -> bool:
        """Whether the principal's role is at least ``needed``."""
        return self.role is not None and self.role.rank >= needed.rank


ANONYMOUS = Principal(None, None)
OPEN_MODE = Principal("local", Role.ADMIN)
READ_METHODS = ("GET", "HEAD")
BASIC_CACHE_S = 300.0
_BASIC_VERIFIERS = 2  # scrypt verifications at once: CPU-bound, so never more than the cores


class Throttled(Exception):
    """Too many failed logins from one address."""


class AccessPolicy:
    """Users, sessions and the decision for each request.

    Raises (when built):
        AccessConfigError: the hub would listen beyond loopback with no user configured.
    """

    def __init__(
        self,
        settings: AccessSettings,
        listen_host: str,
        clock: Callable[[], float] = time.time,
        sessions: SessionStore | None = None,
    ) -> None:
        self.settings = settings
        self._users = {user.name: user for user in settings.users}
        self._keys = [(bytes.fromhex(key.key_hash.removeprefix("sha256$")), key) for key in settings.api_keys]
        self._clock = clock
        self.sessions = sessions or SessionStore()
        self._proxies = [ipaddress.ip_network(p, strict=False) for p in settings.trusted_proxies]
        self._basic_cache: dict[bytes, tuple[float, Principal]] = {}
        # Checked for names that are no user, so that they cost the same scrypt work (made now, not on first use).
        self._dummy_hash = hash_password(secrets.token_urlsafe(16)) if self._users else ""
        self.streams: dict[str, int] = {}
        self.open = not self._users and not self._keys
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
        user = self._check_password(name, password, client)
        return None if user is None else self._token(user)

    def _check_password(self, name: str, password: str, client: str) -> UserEntry | None:
        """The user if the password is theirs; the same scrypt work for a name that is no user."""
        user = self._users.get(name)
        if user is None:
            verify_password(password, self._dummy_hash)  # the same work: names cannot be told by timing
        elif verify_password(password, user.password_hash):
            self._failures.pop(client, None)
            return user
        logger.warning("failed login for %r from %s", name[:64], client)
        if len(self._failures) > 10_000:  # a flood of addresses: keep the memory bounded
            self._failures.clear()
        self._failures.setdefault(client, deque()).append(self._clock())
        return None

    def logout(self, token: str) -> str | None:
        """End the session a token names; the user's name when it was live."""
        claims = self._claims(token)
        if claims is None:
            return None
        name, session_id = claims[0], claims[4]
        return name if self.sessions.revoke(session_id, self._clock()) else None

    def revoke_user(self, name: str) -> int:
        """End every session of a user and forget their remembered HTTP Basic headers; how many sessions."""
        self._basic_cache = {k: v for k, v in self._basic_cache.items() if v[1].name != name}
        return self.sessions.revoke_user(name, self._clock())

    def known_user(self, name: str) -> bool:
        """Whether ``name`` is a configured user."""
        return name in self._users

    def throttled(self, client: str) -> bool:
        """Whether ``client`` failed too many logins in the last ten minutes."""
        recent = self._failures.get(client)
        if not recent:
            return False
        while recent and recent[0] < self._clock() - 600:
            recent.popleft()
        return len(recent) >= self.settings.max_failed_logins

    def _token(self, user: UserEntry) -> str:
        now = self._clock()
        expires = int(now + self.settings.session_hours * 3600)
        session_id = self.sessions.issue(user.name, now, expires)
        body = json.dumps([user.name, user.role.value, expires, _fingerprint(user), session_id], separators=(",", ":"))
        encoded = base64.urlsafe_b64encode(body.encode()).decode().rstrip("=")
        return f"{encoded}.{self._sign(encoded)}"

    def _sign(self, encoded: str) -> str:
        return hmac.new(self._key, encoded.encode(), hashlib.sha256).hexdigest()

    def _claims(self, token: str) -> list[Any] | None:
        encoded, _, signature = token.partition(".")
        if not signature or not hmac.compare_digest(signature, self._sign(encoded)):
            return None
        try:
            claims = json.loads(base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)))
        except (ValueError, binascii.Error):
            return None
        if not isinstance(claims, list) or len(claims) != 5 or not all(isinstance(c, str) for c in claims[:2]):
            return None
        return claims

    def principal_from_token(self, token: str) -> Principal | None:
        """The user a session token names, if it is genuine, unexpired, not logged out or revoked, and still
        matches the configuration."""
        claims = self._claims(token)
        if claims is None:
            return None
        name, role, expires, fingerprint, session_id = claims
        user = self._users.get(name)
        now = self._clock()
        if user is None or user.role.value != role or not isinstance(expires, int) or expires < now:
            return None
        if fingerprint != _fingerprint(user) or not isinstance(session_id, str):
            return None
        if not self.sessions.active(session_id, name, now):
            return None
        return Principal(user.name, user.role)

    def principal_from_basic(self, header: str, client: str = "unknown") -> Principal | None:
        """The user named by an ``Authorization: Basic`` header with the right password (scrypt: call it from a
        worker thread, see :meth:`identify_async`)."""
        cache_key = self._basic_key(header)
        now = self._clock()
        cached = self._remembered(cache_key)
        if cached is not None:
            return cached
        try:
            decoded = base64.b64decode(header.removeprefix("Basic ").strip(), validate=True).decode()
        except (ValueError, binascii.Error, UnicodeDecodeError):
            decoded = ":"
        name, _, password = decoded.partition(":")
        user = self._check_password(name, password, client)
        if user is None:
            return None
        principal = Principal(user.name, user.role)
        if len(self._basic_cache) > 1000:
            self._basic_cache.clear()
        self._basic_cache[cache_key] = (now + BASIC_CACHE_S, principal)
        return principal

    def _basic_key(self, header: str) -> bytes:
        return hmac.new(self._key, header.encode("latin-1", "replace"), hashlib.sha256).digest()

    def _remembered(self, cache_key: bytes) -> Principal | None:
        cached = self._basic_cache.get(cache_key)
        return cached[1] if cached is not None and cached[0] > self._clock() else None

    def principal_from_key(self, header: str) -> Principal | None:
        """The program an ``Authorization: Bearer`` API key belongs to (read-only)."""
        digest = hashlib.sha256(header.removeprefix("Bearer ").strip().encode("latin-1", "replace")).digest()
        found: ApiKeyEntry | None = None
        for expected, key in self._keys:  # compare with every key, constant time each
            if hmac.compare_digest(digest, expected):
                found = key
        return None if found is None else Principal(f"key:{found.name}", found.role, read_only=True)

    def identify(self, headers: dict[str, str], client: str = "unknown") -> Principal:
        """Who sent a request with these (lower-cased) headers (runs scrypt for HTTP Basic: see
        :meth:`identify_async` for the event loop)."""
        if self.open:
            return OPEN_MODE
        authorization = headers.get("authorization", "")
        if authorization.startswith("Basic "):
            return self.principal_from_basic(authorization, client) or ANONYMOUS
        if authorization.startswith("Bearer "):
            return self.principal_from_key(authorization) or ANONYMOUS
        token = cookie_value(headers.get("cookie", ""), SESSION_COOKIE)
        if token:
            return self.principal_from_token(token) or ANONYMOUS
        return ANONYMOUS

    async def identify_async(self, headers: dict[str, str], client: str) -> Principal:
        """:meth:`identify` for the event loop: HTTP Basic is throttled per address like the login and its
        scrypt runs in a worker thread, at most two at once.

        Raises:
            Throttled: the address failed too many logins in the last ten minutes.
        """
        authorization = headers.get("authorization", "")
        if self.open or not authorization.startswith("Basic "):
            return self.identify(headers, client)
        remembered = self._remembered(self._basic_key(authorization))
        if remembered is not None:  # verified minutes ago: no scrypt, and no guess, so not throttled
            return remembered
        if self.throttled(client):
            raise Throttled(client)
        return await anyio.to_thread.run_sync(self.identify, headers, client, limiter=_basic_limiter())

    def client_address(self, peer: str | None, headers: dict[str, str]) -> str:
        """The caller's address: the peer, or, when the peer is a trusted proxy, the last address in
        ``X-Forwarded-For`` that is not itself a trusted proxy."""
        if peer is None:
            return "unknown"
        if not self._proxies or not self._trusted(peer):
            return peer
        hops = [hop.strip() for hop in headers.get("x-forwarded-for", "").split(",") if hop.strip()]
        for hop in reversed(hops):
            if not self._trusted(hop):
                try:
                    return str(ipaddress.ip_address(hop))
                except ValueError:
                    return peer  # garbage in the header: believe the proxy itself
        return peer

    def _trusted(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in self._proxies)

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
        if principal.read_only and method not in READ_METHODS and needed is not None:
            return 403
        if needed is None or principal.may(needed):
            return 200
        if not principal.authenticated and self.public_allows(method, path, query):
            return 200
        return 403 if principal.authenticated else 401


_LIMITERS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, anyio.CapacityLimiter] = weakref.WeakKeyDictionary()


def _basic_limiter() -> anyio.CapacityLimiter:
    """The event loop's own limiter of concurrent scrypt verifications."""
    loop = asyncio.get_running_loop()
    limiter = _LIMITERS.get(loop)
    if limiter is None:
        limiter = _LIMITERS[loop] = anyio.CapacityLimiter(_BASIC_VERIFIERS)
    return limiter


def _fingerprint(user: UserEntry) -> str:
    return hashlib.sha256(user.password_hash.encode()).hexdigest()[:16]


def cookie_value(header: str, name: str) -> str | None:
    for part in header.split(";"):
        key, _, value = part.strip().partition("=")
        if key == name:
            return value
    return None


def security_headers(tile_url: str | None = None) -> dict[str, dict[bytes, bytes]]:
    """Headers added to every response: the dashboard's content security policy (its own scripts and styles
    only, no inline script; images also from the configured map tile server), no framing, no referrer. The
    API documentation pages (Swagger UI, ReDoc) load their scripts from a CDN and get a policy that allows it."""
    tiles = ""
    if tile_url:
        match = re.match(r"^(https?://[^/{}]+)", tile_url)
        tiles = f" {match.group(1)}" if match else ""
    common = {
        b"x-frame-options": b"DENY",
        b"referrer-policy": b"no-referrer",
        b"x-content-type-options": b"nosniff",
    }
    dashboard = (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:" + tiles + "; "
        "connect-src 'self'; font-src 'self'; media-src 'self' data:; object-src 'none'; base-uri 'none'; "
        "form-action 'self'; frame-ancestors 'none'"
    )
    cdn = "https://cdn.jsdelivr.net"
    docs = (
        f"default-src 'self'; script-src 'self' 'unsafe-inline' {cdn}; style-src 'self' 'unsafe-inline' {cdn} "
        "https://fonts.googleapis.com; font-src 'self' https://fonts.gstatic.com; img-src 'self' data: "
        f"https://fastapi.tiangolo.com {cdn}; worker-src 'self' blob:; connect-src 'self'; object-src 'none'; "
        "base-uri 'none'; frame-ancestors 'none'"
    )
    return {
        "dashboard": {**common, b"content-security-policy": dashboard.encode()},
        "docs": {**common, b"content-security-policy": docs.encode()},
    }


DOCS_PATHS = ("/docs", "/redoc")


class AccessMiddleware:
    """ASGI middleware: identifies the caller, puts it in ``request.state.principal``, refuses what it may
    not see with 401 or 403 (JSON), and lets the rest through untouched (streams included)."""

    def __init__(self, app: ASGIApp, policy: AccessPolicy, tile_url: str | None = None) -> None:
        self.app = app
        self.policy = policy
        self.headers = security_headers(tile_url)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = self.headers["docs" if scope["path"].startswith(DOCS_PATHS) else "dashboard"]

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                kept = [(k, v) for k, v in message.get("headers", []) if k.lower() not in extra]
                message["headers"] = kept + list(extra.items())
            await send(message)

        headers = {key.decode("latin-1").lower(): value.decode("latin-1") for key, value in scope["headers"]}
        peer = scope.get("client")
        client = self.policy.client_address(peer[0] if peer else None, headers)
        state = scope.setdefault("state", {})
        state["client_address"] = client
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
        repeated = sorted(name for name, values in query.items() if len(values) > 1)
        if repeated and scope["path"].startswith("/api/"):
            # Read once, the same way, by the access check and the handler: a repeated parameter is ambiguous.
            await _refuse(send_with_headers, 400, f"query parameter given more than once: {', '.join(repeated)}")
            return
        try:
            principal = await self.policy.identify_async(headers, client)
        except Throttled:
            await _refuse(send_with_headers, 429, "too many failed logins; wait ten minutes")
            return
        state["principal"] = principal
        status = self.policy.decide(scope["method"], scope["path"], query, principal)
        if status == 200:
            await self.app(scope, receive, send_with_headers)
            return
        await _refuse(send_with_headers, status, "login required" if status == 401 else "your role may not see this")


async def _refuse(send: Send, status: int, detail: str) -> None:
    body = json.dumps({"detail": detail}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
