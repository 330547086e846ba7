"""``onestop-edge`` serves the kiosk page on its loopback port, with or without the ticket endpoint beside it."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from devtools.mosquitto import free_port


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


@contextmanager
def running_agent(config: Path, ready_url: str) -> Iterator[subprocess.Popen[bytes]]:
    log = config.with_suffix(".log")
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "edge.cli", "--config", str(config)], stdout=output, stderr=output
        )
    try:
        deadline = time.monotonic() + 20
        while not _answers(ready_url):
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"the agent did not serve {ready_url}: {log.read_text()}")
            time.sleep(0.1)
        yield process
    finally:
        process.terminate()
        process.wait(timeout=20)


def node_yaml(tmp_path: Path, extra: str) -> Path:
    # No broker on this port: the agent keeps retrying in the background, which is all the page needs.
    config = tmp_path / "node.yaml"
    config.write_text(
        f"site: bn-hcc\ndesk: q09\nstaff: cb-1\n"
        f"mqtt: {{host: 127.0.0.1, port: {free_port()}}}\n"
        f"spool: {{path: {tmp_path / 'outbox.db'}}}\n" + extra
    )
    return config


@pytest.mark.parametrize("with_ticket_api", [False, True], ids=["kiosk only", "kiosk and ticket api"])
def test_the_agent_serves_the_kiosk_page_on_its_own_port(tmp_path: Path, with_ticket_api: bool) -> None:
    kiosk_port, api_port = free_port(), free_port()
    extra = f"kiosk: {{touch: {{listen: '127.0.0.1:{kiosk_port}'}}}}\n"
    if with_ticket_api:
        extra += f"tickets: {{api: {{listen: '127.0.0.1:{api_port}'}}}}\n"
    page = f"http://127.0.0.1:{kiosk_port}/kiosk"
    with running_agent(node_yaml(tmp_path, extra), page):
        assert "Đánh giá sự phục vụ" in httpx.get(page).text
        levels = httpx.get(f"http://127.0.0.1:{kiosk_port}/kiosk/api/config").json()["levels"]
        assert [level["vi"] for level in levels] == ["Rất hài lòng", "Hài lòng", "Bình thường", "Không hài lòng"]
        if with_ticket_api:
            ticket = {"event": "issued", "ticket": "A001"}
            assert httpx.post(f"http://127.0.0.1:{api_port}/api/v1/tickets", json=ticket).status_code == 202
        else:
            assert not _answers(f"http://127.0.0.1:{api_port}/api/v1/health")
