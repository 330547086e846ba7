"""The hall display's words and voice: the call text from the configured template, settings errors that name
their key, and the spoken call made by espeak-ng as a WAV file that is long enough and not silent."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import pytest

from hub.config import HubSettings, load_settings
from hub.hall import SpeechCache, SpeechError, call_text, desk_number
from hub.hall_settings import HallSettings
from protocol.config_files import validate_config
from protocol.errors import ConfigError


def wav_figures(path: Path) -> tuple[float, float]:
    """Duration (s) and RMS (full scale = 1) of a 16-bit mono WAV."""
    with wave.open(str(path)) as audio:
        assert (audio.getsampwidth(), audio.getnchannels()) == (2, 1)
        frames = audio.readframes(audio.getnframes())
        duration = audio.getnframes() / audio.getframerate()
    samples = np.frombuffer(frames, dtype="<i2").astype(np.float64) / 32768
    return duration, float(np.sqrt(np.mean(samples**2)))


def test_the_default_call_names_the_number_and_the_desk() -> None:
    hall = HallSettings()
    assert call_text(hall, "25", "q03", "Quầy 3") == "Mời công dân số 25 đến quầy 3"
    assert desk_number("Quầy 12", "q12") == "12"
    assert desk_number("Một cửa", "q07") == "7"  # a name without a number: the desk id's


def test_the_template_is_configurable_and_checked() -> None:
    hall = HallSettings(template="Xin mời số {ticket}, {desk_name}")
    assert call_text(hall, "B101", "q01", "Quầy Đất đai") == "Xin mời số B101, Quầy Đất đai"
    data = load_settings().model_dump()
    data["hall"] = {"template": "Mời số {so_phieu} đến quầy {desk_number}"}
    with pytest.raises(ConfigError, match=r"hall\.template.*so_phieu"):
        validate_config(HubSettings, data, "hub.yaml")
    data["hall"] = {"template": "Mời công dân đến quầy {desk_number}"}
    with pytest.raises(ConfigError, match=r"hall\.template.*\{ticket\}"):
        validate_config(HubSettings, data, "hub.yaml")


def test_espeak_speaks_the_call_in_vietnamese_once_and_keeps_it(tmp_path: Path) -> None:
    speech = SpeechCache(HallSettings(cache_dir=tmp_path / "speech"))
    path = speech.wav_for("Mời công dân số 25 đến quầy 3")
    duration, rms = wav_figures(path)
    assert 1.5 <= duration <= 8.0
    assert rms > 0.01  # speech, not silence (silence is 0; espeak-ng speaks at about 0.05–0.2)
    made = path.stat().st_mtime_ns
    assert speech.wav_for("Mời công dân số 25 đến quầy 3") == path  # cached: not made again
    assert path.stat().st_mtime_ns == made
    other = speech.wav_for("Mời công dân số 26 đến quầy 3")
    assert other != path and wav_figures(other)[1] > 0.01


def test_the_voice_is_configurable_and_a_missing_engine_says_how_to_install_it(tmp_path: Path) -> None:
    southern = SpeechCache(HallSettings(cache_dir=tmp_path, voice="vi-vn-x-south"))
    northern = SpeechCache(HallSettings(cache_dir=tmp_path))
    text = "Mời công dân số 7 đến quầy 1"
    assert southern.wav_for(text) != northern.wav_for(text)
    missing = SpeechCache(HallSettings(cache_dir=tmp_path, espeak_command="/nonexistent/espeak-ng"))
    with pytest.raises(SpeechError, match="apt-get install espeak-ng"):
        missing.wav_for("Mời công dân số 8 đến quầy 1")
