"""``onestop-hub purge``, ``onestop-hub privacy …`` and ``onestop-hub api-key``: retention, the personal-data
documents, erasure of a comment on request, and read-only keys for the command centre."""

from __future__ import annotations

import argparse
import getpass
import hashlib
import os
import secrets
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from hub.config import HubSettings
from protocol.errors import ConfigError

if TYPE_CHECKING:
    from hub.runtime import HubRuntime


def add_privacy_parsers(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``purge``, ``privacy`` and ``api-key`` to the hub's command line."""

    def common(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--config", type=Path, default=None, help="hub YAML file (default: the sample province)")
        parser.add_argument("--database", metavar="URL", help="database URL, e.g. sqlite:///var/onestop.db")

    purge = commands.add_parser("purge", help="apply the retention settings to the record now (the hub does it daily)")
    common(purge)

    privacy = commands.add_parser("privacy", help="impact assessment, notices, erasure of a comment on request")
    actions = privacy.add_subparsers(dest="privacy", required=True)
    dpia = actions.add_parser("dpia", help="the data-processing impact assessment (Vietnamese), from the config")
    dpia.add_argument("--format", choices=["md", "pdf"], default="md", help="Markdown (default) or PDF")
    dpia.add_argument("--output", "-o", type=Path, help="file to write (default: standard output for Markdown)")
    common(dpia)
    notice = actions.add_parser("notice", help="the notice text for the camera signage or the kiosk")
    notice.add_argument("kind", choices=["camera", "kiosk"])
    common(notice)
    erase = actions.add_parser("erase-comment", help="erase one comment's text on the citizen's request (audited)")
    erase.add_argument("site", help="the comment's unit")
    erase.add_argument("desk", help="the comment's desk")
    erase.add_argument("id", help="the comment's message id (GET /api/v1/feedback/texts lists them)")
    erase.add_argument("--by", default=None, help="who asks for it, for the audit log (default: the OS user)")
    common(erase)

    key = commands.add_parser("api-key", help="make a read-only API key and the hash for access.api_keys")
    key.add_argument("--name", required=True, help="who holds the key, e.g. trung-tam-dieu-hanh")
    key.add_argument("--role", choices=["viewer", "supervisor"], default="supervisor")


def run_privacy(args: argparse.Namespace, settings: HubSettings) -> int:
    """Run ``purge`` or a ``privacy`` action; the exit status."""
    from hub.privacy_docs import camera_notice, dpia_markdown, dpia_pdf, kiosk_notice

    if args.command == "privacy" and args.privacy == "dpia":
        now = datetime.now(UTC)
        if args.format == "pdf":
            output = args.output or Path("danh-gia-tac-dong-du-lieu-ca-nhan.pdf")
            output.write_bytes(dpia_pdf(settings, now))
            print(f"written {output}")
        elif args.output:
            args.output.write_text(dpia_markdown(settings, now), encoding="utf-8")
            print(f"written {args.output}")
        else:
            print(dpia_markdown(settings, now))
        return 0
    if args.command == "privacy" and args.privacy == "notice":
        print(camera_notice(settings) if args.kind == "camera" else kiosk_notice(settings))
        return 0

    from hub.runtime import HubRuntime

    runtime = HubRuntime(settings)
    try:
        return _run_on_record(args, runtime)
    except ConfigError as error:  # e.g. PostgreSQL cannot be reached
        print(f"onestop-hub: {error}", file=sys.stderr)
        return 2
    finally:
        runtime.close()


def _run_on_record(args: argparse.Namespace, runtime: HubRuntime) -> int:
    """``purge`` or ``privacy erase-comment`` on the open record; the exit status."""
    if args.command == "purge":
        outcome = runtime.purge()
        print(", ".join(f"{name}: {count}" for name, count in outcome.as_dict().items()))
        return 0
    from hub.retention import erase_comment

    actor = args.by or f"cli:{_os_user()}"
    if erase_comment(runtime.record, args.site, args.desk, args.id, actor, runtime.audit):
        print(f"comment {args.site}/{args.desk}/{args.id}: text erased (its sentiment is kept)")
        return 0
    print(f"onestop-hub: no comment text with id {args.id!r} at {args.site}/{args.desk}", file=sys.stderr)
    return 1


def print_api_key(name: str, role: str) -> int:
    """Print a new key (to give to the program) and the entry for ``access.api_keys`` (to put in the config)."""
    key = secrets.token_urlsafe(32)
    digest = hashlib.sha256(key.encode()).hexdigest()
    print(f"key (give it to {name}, it is shown only once): {key}")
    print("config entry under access.api_keys:")
    print(f"  - {{name: {name}, role: {role}, key_hash: 'sha256${digest}'}}")
    return 0


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return str(os.getuid()) if hasattr(os, "getuid") else "unknown"
