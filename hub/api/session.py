"""Logging in and out of the dashboard: a signed session cookie (see ``hub.auth``)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request, Response
from pydantic import BaseModel, Field

from hub.auth import ANONYMOUS, SESSION_COOKIE, AccessPolicy, Principal, cookie_value

router = APIRouter(prefix="/api/v1/auth", tags=["access"])


class Credentials(BaseModel):
    """A login form."""

    name: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)


def policy_of(request: Request) -> AccessPolicy:
    """The access policy the application was built with."""
    policy: AccessPolicy = request.app.state.access_policy
    return policy


def principal_of(request: Request) -> Principal:
    """Who sent the request (set by the access middleware)."""
    principal: Principal = getattr(request.state, "principal", ANONYMOUS)
    return principal


def client_of(request: Request) -> str:
    """The caller's address as the access middleware saw it (proxies believed only when trusted)."""
    address: str = getattr(request.state, "client_address", None) or (
        request.client.host if request.client else "unknown"
    )
    return address


def actor_of(request: Request) -> str:
    """The name the audit log gives the caller."""
    return principal_of(request).name or f"anonymous@{client_of(request)}"


def audit(request: Request, action: str, target: str, detail: dict[str, Any] | None = None) -> None:
    """Record what the caller did in the hub's audit log."""
    request.app.state.runtime.audit.record(actor_of(request), action, target, detail)


def describe(principal: Principal, policy: AccessPolicy) -> dict[str, Any]:
    """What the dashboard needs to know about the caller."""
    return {
        "authenticated": principal.authenticated,
        "name": principal.name,
        "role": principal.role.value if principal.role else None,
        "open": policy.open,
        "public_units": list(policy.settings.public_units),
    }


@router.get("/me", summary="Who is logged in")
def me(request: Request) -> dict[str, Any]:
    """The caller's name and role; ``open`` when the hub runs without users on loopback."""
    return describe(principal_of(request), policy_of(request))


@router.post("/login", summary="Log in and receive a session cookie")
def login(credentials: Credentials, request: Request, response: Response) -> dict[str, Any]:
    """Checks the name and password against the configuration; answers 401 when they do not match and 429 after
    too many failures from one address."""
    policy = policy_of(request)
    client = client_of(request)
    if policy.throttled(client):
        raise HTTPException(status_code=429, detail="too many failed logins; wait ten minutes")
    token = policy.login(credentials.name, credentials.password, client)
    if token is None:
        raise HTTPException(status_code=401, detail="wrong name or password")
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=int(policy.settings.session_hours * 3600),
        httponly=True,
        samesite="strict",
        secure=policy.settings.tls,
        path="/",
    )
    principal = policy.principal_from_token(token) or ANONYMOUS
    audit(request, "session.login", credentials.name, {"client": client})
    return describe(principal, policy)


@router.post("/logout", summary="End the session")
def logout(request: Request, response: Response) -> dict[str, bool]:
    """Ends the session on the hub (the cookie no longer works, even if kept) and removes the cookie."""
    token = cookie_value(request.headers.get("cookie", ""), SESSION_COOKIE)
    name = policy_of(request).logout(token) if token else None
    if name is not None:
        audit(request, "session.logout", name)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return {"ok": True}
