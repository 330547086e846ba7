"""Per-device broker accounts from the hub configuration: ``onestop-hub provision``.

One MQTT account per desk, named ``{site}-{desk}`` as in the edge configuration, and one per hub worker.
The output is a directory the installer copies out:

- ``broker/passwd``: Mosquitto's ``password_file`` (PBKDF2-SHA512, the format ``mosquitto_passwd`` writes);
- ``broker/acl``: Mosquitto's ``acl_file``: a device publishes only its own kinds under its own
  ``onestop/v1/{site}/{desk}/`` and reads only its own ``config``; a hub account reads everything and
  publishes only ``alert`` and ``config``;
- ``devices/{site}-{desk}.env`` and ``hub/{account}.env``: each account's password as the environment line
  its service reads (``/etc/onestop/edge.env`` on the Pi, ``/etc/onestop/hub.env`` on the hub), mode 0600.

A second run keeps the passwords already in the output directory (a new desk gets a new one, the others
keep theirs) unless an account is named for rotation. Client ids are tied to user names by the broker's
listeners (``use_username_as_clientid true`` in ``deploy/mosquitto.conf``), not here.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import re
import secrets
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from hub.config import HubSettings
from hub.progress import PROBE_ROOT, probe_topic
from protocol.errors import OneStopError
from protocol.topics import TOPIC_ROOT, MessageKind

# What only the hub publishes.
HUB_KINDS: tuple[MessageKind, ...] = (MessageKind.ALERT, MessageKind.CONFIG)
# What a desk's devices (agent, camera, kiosk, its queue-number system through the agent) may publish.
DEVICE_KINDS: tuple[MessageKind, ...] = tuple(k for k in MessageKind if k not in HUB_KINDS)
DEFAULT_HUB_ACCOUNT = "onestop-hub"
EDGE_PASSWORD_ENV = "ONESTOP_EDGE_MQTT_PASSWORD"
# mosquitto_passwd's defaults in Mosquitto 2.0 (``$7$``: PBKDF2-HMAC-SHA512, 101 rounds, 12-byte salt). The
# passwords are 192 random bits, so more rounds would only slow every connection, not an attacker.
PBKDF2_ROUNDS = 101
SALT_BYTES = 12
PASSWORD_BYTES = 24
# A name Mosquitto's password and ACL files can hold (no colon, no blank) and a shell sees as one word.
_ACCOUNT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
# What provision itself writes into an account's .env file.
_PASSWORD = re.compile(r"^[A-Za-z0-9_-]{16,128}$")


class ProvisionError(OneStopError, ValueError):
    """The configuration or the options cannot give every device an account of its own."""


@dataclass(frozen=True, slots=True)
class Account:
    """One MQTT account: a desk's (``site``/``desk`` set) or a hub worker's."""

    username: str
    site: str | None = None
    desk: str | None = None

    @property
    def is_hub(self) -> bool:
        """Whether this is a hub worker's account."""
        return self.site is None

    @property
    def secret_file(self) -> Path:
        """Where its password goes, relative to the output directory."""
        return Path("hub" if self.is_hub else "devices") / f"{self.username}.env"


@dataclass(frozen=True, slots=True)
class ProvisionResult:
    """What a run wrote."""

    accounts: tuple[Account, ...]
    created: tuple[str, ...]
    rotated: tuple[str, ...]
    kept: tuple[str, ...]
    orphaned: tuple[Path, ...]

    @property
    def devices(self) -> int:
        """Number of desk accounts."""
        return sum(1 for a in self.accounts if not a.is_hub)


def device_username(site: str, desk: str) -> str:
    """The MQTT user name of a desk's node, as in ``config/edge.example.yaml``."""
    return f"{site}-{desk}"


def plan_accounts(settings: HubSettings, hub_accounts: Sequence[str] = ()) -> tuple[Account, ...]:
    """Every desk's account and the hub's, checked to be distinct.

    Raises:
        ProvisionError: a hub account name is not usable, or two accounts would share a name (e.g. unit
            ``a-b`` desk ``c`` and unit ``a`` desk ``b-c``); the message names them.
    """
    hubs = list(dict.fromkeys(hub_accounts or [settings.mqtt.username or DEFAULT_HUB_ACCOUNT]))
    for name in hubs:
        if not _ACCOUNT.match(name):
            raise ProvisionError(
                f"hub account {name!r} is invalid: expected 1–64 letters, digits, '.', '_' or '-', starting "
                "with a letter or digit"
            )
    accounts = [Account(name) for name in hubs]
    accounts += [Account(device_username(s.id, d.id), s.id, d.id) for s in settings.sites for d in s.desks]
    owners: dict[str, list[str]] = {}
    for account in accounts:
        owner = "the hub" if account.is_hub else f"unit {account.site} desk {account.desk}"
        owners.setdefault(account.username, []).append(owner)
    clashes = [f"{name} ({' and '.join(who)})" for name, who in owners.items() if len(who) > 1]
    if clashes:
        raise ProvisionError(
            "sites[].desks[].id: these accounts would be shared, so one could speak for the other: "
            + "; ".join(clashes)
            + ". Rename a desk or unit, or give the hub another account with --hub-account"
        )
    return tuple(accounts)


def render_acl(accounts: Iterable[Account]) -> str:
    """Mosquitto's ACL file: explicit per-user topics, no patterns (patterns apply to every user)."""
    lines = [
        "# Mosquitto ACL written by `onestop-hub provision`; do not edit by hand, run it again.",
        "# Anything not listed is denied. A device publishes only its own kinds under its own",
        f"# {TOPIC_ROOT}/{{site}}/{{desk}}/ and reads only its own config; the hub reads everything and",
        "# alone publishes alert and config. Each hub account also reads and writes the probes of its own",
        f"# session's queue on {PROBE_ROOT}/<account>: not the desks' protocol (docs/scaling.md).",
    ]
    for account in accounts:
        lines += ["", f"user {account.username}"]
        if account.is_hub:
            lines.append(f"topic read {TOPIC_ROOT}/#")
            lines += [f"topic write {TOPIC_ROOT}/+/+/{kind.value}" for kind in HUB_KINDS]
            lines.append("topic read $SYS/#")
            lines.append(f"topic readwrite {probe_topic(account.username)}")
        else:
            base = f"{TOPIC_ROOT}/{account.site}/{account.desk}"
            lines += [f"topic write {base}/{kind.value}" for kind in DEVICE_KINDS]
            lines.append(f"topic read {base}/{MessageKind.CONFIG.value}")
    return "\n".join(lines) + "\n"


def mosquitto_hash(password: str, salt: bytes | None = None, rounds: int = PBKDF2_ROUNDS) -> str:
    """The password file's hash of ``password`` (``$7$rounds$salt$hash``, as ``mosquitto_passwd`` writes)."""
    salt = secrets.token_bytes(SALT_BYTES) if salt is None else salt
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, rounds)
    return f"$7${rounds}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def mosquitto_hash_matches(password: str, hashed: str) -> bool:
    """Whether ``hashed`` (a ``$7$`` entry of a password file) is the hash of ``password``."""
    parts = hashed.split("$")
    if len(parts) != 5 or parts[1] != "7" or not parts[2].isdigit():
        return False
    try:
        salt = base64.b64decode(parts[3], validate=True)
    except binascii.Error:
        return False
    return hmac.compare_digest(mosquitto_hash(password, salt, int(parts[2])), hashed)


def render_password_file(passwords: dict[str, str]) -> str:
    """Mosquitto's password file for these ``user → password`` pairs."""
    return "".join(f"{user}:{mosquitto_hash(password)}\n" for user, password in passwords.items())


def new_password() -> str:
    """A random password that survives an environment file and a shell unquoted."""
    return secrets.token_urlsafe(PASSWORD_BYTES)


def provision(
    settings: HubSettings,
    out_dir: Path,
    hub_accounts: Sequence[str] = (),
    rotate: Iterable[str] = (),
    hub_password_env: str | None = None,
) -> ProvisionResult:
    """Write the password file, the ACL and each account's password under ``out_dir``.

    Raises:
        ProvisionError: accounts clash, an account to rotate is unknown, or a kept password file is damaged.
        OSError: the directory cannot be written.
    """
    accounts = plan_accounts(settings, hub_accounts)
    known = {a.username for a in accounts}
    to_rotate = set(rotate)
    unknown = sorted(to_rotate - known)
    if unknown:
        raise ProvisionError(f"--rotate: no such account: {', '.join(unknown)} (accounts are named {{site}}-{{desk}})")
    hub_env = hub_password_env or settings.mqtt.password_env
    passwords: dict[str, str] = {}
    created: list[str] = []
    rotated: list[str] = []
    kept: list[str] = []
    fresh: list[tuple[Path, str]] = []
    # Every kept password is read (and checked) before anything is written, so an error changes nothing.
    for account in accounts:
        env = hub_env if account.is_hub else EDGE_PASSWORD_ENV
        existing = _read_secret(out_dir / account.secret_file, env)
        if existing is not None and account.username not in to_rotate:
            passwords[account.username] = existing
            kept.append(account.username)
            continue
        passwords[account.username] = new_password()
        (rotated if existing is not None else created).append(account.username)
        fresh.append((out_dir / account.secret_file, f"{env}={passwords[account.username]}\n"))
    for path, line in fresh:
        _write_private(path, line)
    _write_private(out_dir / "broker" / "passwd", render_password_file(passwords))
    _write_private(out_dir / "broker" / "acl", render_acl(accounts))
    wanted = {out_dir / a.secret_file for a in accounts}
    orphaned = tuple(
        sorted(p for folder in ("devices", "hub") for p in (out_dir / folder).glob("*.env") if p not in wanted)
    )
    return ProvisionResult(accounts, tuple(created), tuple(rotated), tuple(kept), orphaned)


def _read_secret(path: Path, env: str) -> str | None:
    if not path.exists():
        return None
    for line in path.read_text().splitlines():
        name, _, value = line.partition("=")
        if name.strip() == env:
            value = value.strip()
            if not _PASSWORD.match(value):
                raise ProvisionError(
                    f"{path}: {env} is not a password provision wrote (16–128 letters, digits, '-' or '_'); "
                    "delete the file to make a new one, or fix it"
                )
            return value
    raise ProvisionError(f"{path}: no {env}=… line; delete the file to make a new password")


def _write_private(path: Path, text: str) -> None:
    """Write ``text`` readable by the owner only (0600, folders 0700), replacing the file in one step."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    temporary = path.with_name(f".{path.name}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.chmod(temporary, 0o600)
    os.replace(temporary, path)


def run_provision(out_dir: Path, settings: HubSettings, hub_accounts: Sequence[str], rotate: Sequence[str]) -> int:
    """The ``provision`` command: write, then say what was done and where each file goes."""
    try:
        result = provision(settings, out_dir, hub_accounts, rotate)
    except ProvisionError as error:
        print(f"onestop-hub provision: {error}", file=sys.stderr)
        return 2
    hubs = [a.username for a in result.accounts if a.is_hub]
    print(
        f"{result.devices} desk accounts and {len(hubs)} hub account(s) in {out_dir}: "
        f"{len(result.created)} new, {len(result.rotated)} rotated, {len(result.kept)} kept"
    )
    print("  broker/passwd, broker/acl → /etc/mosquitto/onestop/ on the broker, then reload mosquitto")
    print("  devices/<site>-<desk>.env → /etc/onestop/edge.env on that desk's Pi (mode 0600)")
    print("  hub/<account>.env → /etc/onestop/hub.env on the hub (mode 0600)")
    if settings.mqtt.username not in hubs:
        print(f"  set mqtt.username: {hubs[0]} in the hub configuration (the broker ties client ids to user names)")
    for path in result.orphaned:
        print(f"  {path} belongs to no configured desk any more: its account is gone from passwd; delete the file")
    return 0
