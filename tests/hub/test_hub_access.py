"""Who may see what: hashed passwords, signed sessions, roles per route, the public view of a unit, and a hub
that refuses to listen beyond loopback without users."""

from __future__ import annotations

import base64
import hashlib
import subprocess
import sys

import pytest

from hub.auth import (
    ANONYMOUS,
    OPEN_MODE,
    AccessConfigError,
    AccessPolicy,
    AccessSettings,
    Principal,
    Role,
    hash_password,
    verify_password,
)
from hub.cli import main

SUPERVISOR_HASH = hash_password("giam-sat-2026")


def policy(listen: str = "127.0.0.1", public: list[str] | None = None, clock: float = 1_000_000.0) -> AccessPolicy:
    settings = AccessSettings(
        users=[
            {"name": "xem", "role": "viewer", "password_hash": hash_password("chi-xem-thoi")},
            {"name": "giamsat", "role": "supervisor", "password_hash": SUPERVISOR_HASH},
        ],
        public_units=public or [],
    )
    return AccessPolicy(settings, listen, clock=lambda: clock)


def test_a_password_hash_verifies_only_its_password() -> None:
    stored = hash_password("mật khẩu đúng")
    assert stored.startswith("scrypt$") and "mật" not in stored
    assert verify_password("mật khẩu đúng", stored)
    assert not verify_password("mật khẩu sai", stored)
    assert hash_password("mật khẩu đúng") != stored  # a fresh salt each time
    assert not verify_password("x", "not-a-hash")


def test_no_users_is_open_on_loopback_and_refused_beyond() -> None:
    assert AccessPolicy(AccessSettings(), "127.0.0.1").open
    assert AccessPolicy(AccessSettings(), "localhost").identify({}) == OPEN_MODE
    for host in ("0.0.0.0", "192.168.1.20", "::"):
        with pytest.raises(AccessConfigError, match="no user configured"):
            AccessPolicy(AccessSettings(), host)
    assert not policy("0.0.0.0").open


@pytest.mark.parametrize(
    ("path", "who", "status"),
    [
        ("/", ANONYMOUS, 200),
        ("/app.js", ANONYMOUS, 200),
        ("/api/v1/auth/me", ANONYMOUS, 200),
        ("/api/v1/sites", ANONYMOUS, 401),
        ("/api/v1/sites", Principal("xem", Role.VIEWER), 200),
        ("/api/v1/health", Principal("xem", Role.VIEWER), 403),
        ("/api/v1/health", Principal("giamsat", Role.SUPERVISOR), 200),
        ("/api/v1/rejected", Principal("giamsat", Role.SUPERVISOR), 403),
        ("/api/v1/rejected", Principal("admin", Role.ADMIN), 200),
        ("/api/v1/reports/year", Principal("xem", Role.VIEWER), 403),
        ("/api/v1/reports/evaluation", Principal("giamsat", Role.SUPERVISOR), 403),
        ("/api/v1/reports/evaluation", Principal("admin", Role.ADMIN), 200),
        ("/docs", ANONYMOUS, 401),
        ("/api/v1/notify/recipients", Principal("xem", Role.VIEWER), 403),
        ("/api/v1/notify/recipients", Principal("giamsat", Role.SUPERVISOR), 200),
        ("/api/v1/evaluation/officers", ANONYMOUS, 401),
    ],
)
def test_routes_need_their_role(path: str, who: Principal, status: int) -> None:
    assert policy().decide("GET", path, {}, who) == status


def test_a_public_unit_is_readable_without_login_and_nothing_else() -> None:
    open_one = policy(public=["bn-hcc"])
    allowed = [
        ("/api/v1/sites/bn-hcc/live", {}),
        ("/api/v1/sites/bn-hcc/stats", {}),
        ("/api/v1/sites/bn-hcc/hours", {}),
        ("/api/v1/stream", {"site": ["bn-hcc"]}),
        ("/api/v1/alerts", {"site": ["bn-hcc"]}),
        ("/api/v1/dashboard/config", {}),
    ]
    refused = [
        ("/api/v1/sites/bn-tu-son/live", {}),
        ("/api/v1/stream", {}),
        ("/api/v1/alerts", {"site": ["bn-tu-son"]}),
        ("/api/v1/sites", {}),
        ("/api/v1/dashboard/overview", {}),
    ]
    for path, query in allowed:
        assert open_one.decide("GET", path, query, ANONYMOUS) == 200, path
    for path, query in refused:
        assert open_one.decide("GET", path, query, ANONYMOUS) == 401, (path, query)
    assert open_one.decide("POST", "/api/v1/sites/bn-hcc/live", {}, ANONYMOUS) == 401


def test_a_session_token_names_its_user_until_it_expires_or_the_password_changes() -> None:
    now = 1_000_000.0
    issuing = policy(clock=now)
    token = issuing.login("giamsat", "giam-sat-2026", "10.0.0.5")
    assert token is not None
    assert issuing.identify({"cookie": f"theme=dark; onestop_session={token}"}) == Principal("giamsat", Role.SUPERVISOR)
    assert issuing.principal_from_token(token[:-1] + ("0" if token[-1] != "0" else "1")) is None  # forged
    assert policy(clock=now + 13 * 3600).principal_from_token(token) is None  # expired (12 h)
    assert issuing.login("giamsat", "sai", "10.0.0.5") is None


def test_http_basic_works_for_scripts() -> None:
    header = "Basic " + base64.b64encode(b"xem:chi-xem-thoi").decode()
    assert policy().identify({"authorization": header}) == Principal("xem", Role.VIEWER)
    wrong = "Basic " + base64.b64encode(b"xem:sai").decode()
    assert policy().identify({"authorization": wrong}) == ANONYMOUS


def test_failed_logins_are_throttled_per_address() -> None:
    throttled = policy()
    for _ in range(10):
        throttled.login("giamsat", "sai", "10.0.0.9")
    assert throttled.throttled("10.0.0.9") and not throttled.throttled("10.0.0.10")


def test_the_hub_refuses_to_listen_beyond_loopback_without_users(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--listen", "0.0.0.0:18080", "--broker", "127.0.0.1:1"]) == 2
    assert "no user configured" in capsys.readouterr().err


def test_the_cli_hashes_a_password_from_stdin() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "hub.cli", "hash-password", "--stdin"],
        input="mat-khau-rat-dai\n",
        capture_output=True,
        text=True,
        check=True,
    )
    assert verify_password("mat-khau-rat-dai", result.stdout.strip())


def test_an_unknown_name_costs_the_same_scrypt_work_as_a_wrong_password(monkeypatch: pytest.MonkeyPatch) -> None:
    checking = policy()
    work: list[int] = []
    real_scrypt = hashlib.scrypt

    def counted(password: bytes, **kwargs: object) -> bytes:
        work.append(int(kwargs["n"]))  # type: ignore[call-overload]
        return real_scrypt(password, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(hashlib, "scrypt", counted)
    assert checking.login("giamsat", "sai", "10.0.0.1") is None
    known = list(work)
    work.clear()
    assert checking.login("khong-co-ai", "sai", "10.0.0.1") is None
    assert work == known == [2**14]


def test_forwarded_for_counts_only_from_a_trusted_proxy() -> None:
    settings = AccessSettings(users=[], trusted_proxies=["10.1.0.0/16"])
    behind = AccessPolicy(settings, "127.0.0.1")
    headers = {"x-forwarded-for": "203.0.113.7, 10.1.0.2"}
    assert behind.client_address("10.1.0.1", headers) == "203.0.113.7"  # the last hop not itself a proxy
    assert behind.client_address("127.0.0.1", headers) == "127.0.0.1"  # loopback is not a proxy here
    assert behind.client_address("10.1.0.1", {"x-forwarded-for": "not-an-address"}) == "10.1.0.1"
    assert policy().client_address("127.0.0.1", headers) == "127.0.0.1"  # none trusted by default
    with pytest.raises(ValueError, match="not an address"):
        AccessSettings(trusted_proxies=["proxy.example"])


def test_an_api_key_is_read_only_and_never_admin() -> None:
    digest = "sha256$" + hashlib.sha256(b"khoa-bi-mat").hexdigest()
    settings = AccessSettings(api_keys=[{"name": "trung-tam", "key_hash": digest, "role": "supervisor"}])
    keyed = AccessPolicy(settings, "0.0.0.0")  # a key alone is enough to close the open mode
    centre = keyed.identify({"authorization": "Bearer khoa-bi-mat"})
    assert centre == Principal("key:trung-tam", Role.SUPERVISOR, read_only=True)
    assert keyed.decide("GET", "/api/v1/reports/figures", {}, centre) == 200
    assert keyed.decide("POST", "/api/v1/auth/logout", {}, centre) == 200  # open routes stay open
    assert keyed.decide("POST", "/api/v1/sites", {}, centre) == 403
    assert keyed.identify({"authorization": "Bearer khoa-sai"}) == ANONYMOUS
    with pytest.raises(ValueError, match="never admin"):
        AccessSettings(api_keys=[{"name": "x", "key_hash": digest, "role": "admin"}])


def test_logout_and_revoke_end_sessions_held_on_the_hub() -> None:
    hub_side = policy()
    first = hub_side.login("giamsat", "giam-sat-2026", "10.0.0.5")
    second = hub_side.login("giamsat", "giam-sat-2026", "10.0.0.6")
    assert first and second
    assert hub_side.logout(first) == "giamsat" and hub_side.logout(first) is None
    assert hub_side.principal_from_token(first) is None
    assert hub_side.principal_from_token(second) == Principal("giamsat", Role.SUPERVISOR)
    assert hub_side.revoke_user("giamsat") == 1
    assert hub_side.principal_from_token(second) is None
