"""Rules append in order of creation; `rules/order/` reorders them, and the runtime reads that order."""

from __future__ import annotations

from pathlib import Path

from .test_bad_requests import World


def test_new_rules_append_and_order_puts_them_as_asked(tmp_path: Path) -> None:
    w = World(tmp_path)
    try:
        check_order(w)
    finally:
        w.close()


def check_order(w: World) -> None:
    ext = w.ok("POST", "/client/@me/extension/", json={"name": "100", "type": "ivr"})
    ctx = w.ok("POST", f"/extension/{ext['id']}/ivr/context/", json={})
    base = f"/extension/{ext['id']}/ivr/context/{ctx['id']}/options/start/rules/"
    ids = [w.ok("POST", base, json={"action": "play_silence", "silence_time": ms})["id"] for ms in (100, 200, 300)]
    assert [r["id"] for r in w.ok("GET", base)] == ids
    assert w.ok("PUT", f"{base}order/", json={"order": ids[::-1]}) == {"order": ids[::-1]}
    assert [r["silence_time"] for r in w.ok("GET", base)] == [300, 200, 100]
    assert w.ok("GET", f"{base}order/") == {"order": ids[::-1]}
    refused = w.call("PUT", f"{base}order/", json={"order": ids[:2]})
    assert refused.status_code == 400 and "order" in refused.json()["message"]
    assert w.ok("GET", f"{base}order/") == {"order": ids[::-1]}
