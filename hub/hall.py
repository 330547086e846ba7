"""The hall display: what the TV in the citizens' hall shows, and the spoken call made with espeak-ng.

The view is built from the live board (numbers being served, the next numbers, the expected wait of a new
ticket per service field). The spoken call is generated on the hub by espeak-ng's Vietnamese voice, kept as a
WAV file named by a hash of its words and voice, and served from there on the next request.
"""

from __future__ import annotations

import hashlib
import logging
import re
import subprocess
import threading
from collections import deque
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from hub.hall_settings import HallSettings
from protocol.errors import OneStopError

logger = logging.getLogger(__name__)

SPEECH_TIMEOUT_S = 20
RECENT_CALLS = 50


class SpeechError(OneStopError, RuntimeError):
    """espeak-ng is missing or failed; the text says how to fix it."""


@dataclass(frozen=True, slots=True)
class Call:
    """A desk called (or called again) a number."""

    site: str
    desk: str
    ticket: str
    ts: datetime
    recalled: bool = False


def desk_number(desk_name: str, desk_id: str) -> str:
    """The number people hear for a desk: the digits of its name (Quầy 3 → 3), else of its id (q03 → 3)."""
    for text in (desk_name, desk_id):
        digits = re.findall(r"\d+", text)
        if digits:
            return str(int(digits[-1]))
    return desk_name


def call_text(settings: HallSettings, ticket: str, desk_id: str, desk_name: str) -> str:
    """The words of a call, e.g. "Mời công dân số 25 đến quầy 3"."""
    return settings.template.format(ticket=ticket, desk_number=desk_number(desk_name, desk_id), desk_name=desk_name)


class SpeechCache:
    """Spoken calls as WAV files, generated once by espeak-ng and kept up to ``cache_files``."""

    def __init__(self, settings: HallSettings) -> None:
        self._settings = settings
        self._lock = threading.Lock()

    def wav_for(self, text: str) -> Path:
        """The WAV file of ``text`` spoken in the configured voice, generated when not cached.

        Raises:
            SpeechError: espeak-ng is not installed or could not speak the text.
        """
        settings = self._settings
        key = hashlib.sha256(f"{settings.voice}|{settings.words_per_minute}|{text}".encode()).hexdigest()[:32]
        path = settings.cache_dir / f"{key}.wav"
        with self._lock:
            if path.is_file():
                return path
            settings.cache_dir.mkdir(parents=True, exist_ok=True)
            partial = path.with_suffix(".part.wav")
            command = [
                settings.espeak_command,
                "-v",
                settings.voice,
                "-s",
                str(settings.words_per_minute),
                "-w",
                str(partial),
                "--",
                text,
            ]
            try:
                subprocess.run(command, check=True, capture_output=True, timeout=SPEECH_TIMEOUT_S)
            except FileNotFoundError:
                raise SpeechError(
                    f"{settings.espeak_command!r} is not installed: apt-get install espeak-ng (hall.espeak_command)"
                ) from None
            except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as error:
                detail = getattr(error, "stderr", b"") or b""
                partial.unlink(missing_ok=True)
                raise SpeechError(
                    f"espeak-ng could not speak with voice {settings.voice!r}: {detail.decode()[:200]}"
                ) from None
            partial.replace(path)
            self._trim()
        return path

    def _trim(self) -> None:
        files = sorted(self._settings.cache_dir.glob("*.wav"), key=lambda p: p.stat().st_mtime)
        for old in files[: max(0, len(files) - self._settings.cache_files)]:
            old.unlink(missing_ok=True)


class RecentCalls:
    """The last calls of each unit, for the hall page and to speak only numbers that were really called."""

    def __init__(self) -> None:
        self._calls: dict[str, deque[Call]] = {}
        self._lock = threading.Lock()

    def add(self, call: Call) -> None:
        """Remember a call."""
        with self._lock:
            self._calls.setdefault(call.site, deque(maxlen=RECENT_CALLS)).append(call)

    def of(self, site: str) -> list[Call]:
        """A unit's recent calls, newest first."""
        with self._lock:
            return list(reversed(self._calls.get(site, ())))

    def was_called(self, site: str, desk: str, ticket: str) -> bool:
        """Whether ``ticket`` was recently called to ``desk``."""
        return any(c.desk == desk and c.ticket == ticket for c in self.of(site))
