"""`ivrflow serve --ari-url` as a real process against the emulated Asterisk: calls, readiness, reconnects."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from daemon.harness import SOUNDS, daemon, menu_text
from ivrflow.testing.ari_emulator import AriEmulator
from ivrflow.testing.ari_script import AriCallScript, AriKey

SCALE = 0.05
MEDIA_SECONDS = {str(SOUNDS.resolve() / "advertising"): 4.0, str(SOUNDS.resolve() / "hello"): 3.0}
ENV = {"IVRFLOW_ARI_USER": "ivr", "IVRFLOW_ARI_PASSWORD": "ivrsecret"}


@pytest.fixture
def emu() -> Iterator[AriEmulator]:
    emulator = AriEmulator().start()
    yield emulator
    emulator.stop()


def script(**overrides: object) -> AriCallScript:
    return AriCallScript(**{"exten": "071", "sounds": MEDIA_SECONDS, "time_scale": SCALE, **overrides})  # type: ignore[arg-type]


def test_serve_drives_asterisk_calls_and_says_when_the_websocket_is_down(tmp_path: Path, emu: AriEmulator) -> None:
    with daemon(tmp_path, "--ari-url", emu.url, env=ENV) as d:
        d.wait_for("the events WebSocket", lambda: d.get("/readyz")[0] == 200)
        scripts = [script(), script(keys=[AriKey(10.0, "2")]), script(caller_hangup_at=6.0)]
        for s in scripts:
            emu.place_call(s)
        d.wait_for("a record for each call", lambda: len(d.records()) == 3)
        by_id = {r["call_uuid"]: r for r in d.records()}
        assert by_id[scripts[0].channel_id]["transfer_destinations"] == ["050"]
        assert by_id[scripts[1].channel_id]["transfer_destinations"] == ["002"]
        assert by_id[scripts[2].channel_id]["outcome"] == "caller_hangup"
        assert emu.channel(scripts[1].channel_id).continued == ("ivr-in", "002", 1)
        assert d.metric("ivr_calls_total", ivr="071", outcome="transfer") == 2
        assert d.metric("ivr_calls_active") == 0

        emu.close_websockets_on_accept = True  # Asterisk keeps refusing for a while
        emu.drop_websocket()
        d.wait_for("readyz to say so", lambda: d.get("/readyz")[0] == 503)
        assert "ARI events WebSocket down" in d.get("/readyz")[1]
        emu.close_websockets_on_accept = False
        d.wait_for("the WebSocket back", lambda: d.get("/readyz")[0] == 200, timeout=20)
        assert d.metric("ivr_ari_reconnects_total") >= 1
    assert "ivrsecret" not in "\n".join(d.lines)


def test_a_channel_left_in_the_app_by_an_earlier_process_is_hung_up_at_start(tmp_path: Path, emu: AriEmulator) -> None:
    emu.asterisk.sinks["ivrflow"] = lambda event: False  # an earlier ivrflow's socket, gone unseen
    left = emu.place_call(script())
    emu.asterisk.sinks.clear()
    with daemon(tmp_path, "--ari-url", emu.url, env=ENV) as d:
        d.wait_log(r"ARI reconciliation: 1 orphan\"")
        d.wait_log(rf"call={left.id} msg=\"reconciled: orphan\"")
        d.wait_for("the orphan hung up after the grace period", lambda: not emu.channel(left.id).alive)
        d.wait_log(r"call=\S+ hung up: ivrflow lost this call's StasisStart")


def test_no_credentials_is_a_one_line_error(tmp_path: Path) -> None:
    menu = tmp_path / "menu.yaml"
    menu.write_text(menu_text())
    done = subprocess.run(
        [sys.executable, "-m", "ivrflow", "serve", "--menu", str(menu), "--sounds", str(SOUNDS), "--listen", "127.0.0.1:0",
         "--metrics-listen", "off", "--ari-url", "http://127.0.0.1:9"],
        capture_output=True, text=True, timeout=30, env={"PATH": "/usr/bin:/bin"},
    )
    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    assert "ARI credentials: set IVRFLOW_ARI_USER and IVRFLOW_ARI_PASSWORD" in done.stderr
