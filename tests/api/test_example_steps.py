"""The documented example's eleven steps against `ivrflow api` over real HTTP, SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

from .harness import SOUNDS, Client, add_client, api_server


def build_example(api: Client) -> dict[str, Any]:
    """Steps 1-11 of example-api-responses.md; what each step answered, by step."""
    out: dict[str, Any] = {}
    out["hello"] = api.upload(SOUNDS / "hello.wav", "my welcome file")
    out["ad"] = api.upload(SOUNDS / "advertising.wav", "my ad file")
    out["extension"] = ext = api.call("POST", "/client/@me/extension/",
                                      json={"status": "active", "name": "071", "label": "test IVR", "type": "ivr"})
    ivr = f"/extension/{ext['id']}/ivr"
    out["context"] = ctx = api.call("POST", f"{ivr}/context/", json={
        "digit_len": 3, "allow_any_dial": True, "inter_digit_timeout": 2000, "name": "Main context", "timeout": 5000})
    out["settings"] = api.call("PUT", f"{ivr}/", json={"sleep_time": 5000, "entry_context": ctx["id"]})
    options = f"{ivr}/context/{ctx['id']}/options"
    out["rule_ad"] = api.call("POST", f"{options}/start/rules/",
                              json={"sound": out["ad"]["id"], "sound_type": "foreground", "action": "play_sound"})
    out["rule_hello"] = api.call("POST", f"{options}/start/rules/",
                                 json={"sound": out["hello"]["id"], "sound_type": "background", "action": "play_sound"})
    out["option_1"] = api.call("POST", f"{options}/", json={"digits": "1"})
    out["rule_1"] = api.call("POST", f"{options}/1/rules/", json={"transfer_dst": "+79876543210", "action": "transfer"})
    out["option_2"] = api.call("POST", f"{options}/", json={"digits": "2"})
    out["rule_2"] = api.call("POST", f"{options}/2/rules/", json={"transfer_dst": "002", "action": "transfer"})
    out["rule_timeout"] = api.call("POST", f"{options}/timeout/rules/", json={"transfer_dst": "050", "action": "transfer"})
    out["options"] = api.call("GET", f"{options}/")
    return out


def test_the_eleven_steps_answer_as_documented(db_url: str) -> None:
    client = add_client(db_url)
    with api_server(db_url) as server:
        api = server.session(client)
        out = build_example(api)
    me = client["client"]
    assert out["hello"] == {"id": out["hello"]["id"], "client_id": me, "title": "my welcome file", "dealer_id": None,
                            "filename": "hello.wav"}
    assert out["ad"]["filename"] == "advertising.wav" and out["ad"]["id"] != out["hello"]["id"]
    ext = out["extension"]
    assert ext["name"] == f"{me - 1:03d}*071"
    assert {k: ext[k] for k in ("status", "label", "type", "client_id", "ani_rfc3325", "caller_id_name", "extra_params",
                                "dial_rule_id", "dial_rule_limit", "message_did", "extension_group_id",
                                "did_as_transfer_caller_id")} == {
        "status": "active", "label": "test IVR", "type": "ivr", "client_id": me, "ani_rfc3325": False,
        "caller_id_name": None, "extra_params": None, "dial_rule_id": None, "dial_rule_limit": None,
        "message_did": None, "extension_group_id": None, "did_as_transfer_caller_id": None}
    assert set(ext) >= {"domain", "create_date", "id"}
    assert out["context"] == {"name": "Main context", "inter_digit_timeout": 2000, "timeout": 5000, "extra_params": None,
                              "allow_any_dial": True, "id": out["context"]["id"], "digit_len": 3, "description": None}
    assert out["settings"] == {"lifetime_exp_action": "hangup", "entry_context": out["context"]["id"],
                               "lifetime_exp_transfer_dst": None, "vm_enabled": False, "vm_greeting": None,
                               "lifetime": 1800, "vm_attach_file": True, "sleep_time": 5000, "vm_mailto": None}
    assert out["rule_ad"] == {"id": out["rule_ad"]["id"], "action": "play_sound", "sound": out["ad"]["id"],
                              "sound_type": "foreground"}
    assert out["rule_1"] == {"id": out["rule_1"]["id"], "action": "transfer", "transfer_dst": "+79876543210"}
    assert out["option_1"] == {"digits": "1"}
    assert out["options"] == [{"digits": "start"}, {"digits": "timeout"}, {"digits": "invalid"},
                              {"digits": "2"}, {"digits": "1"}]


def test_sound_file_is_the_telephony_copy_with_an_etag(db_url: str) -> None:
    import io
    import wave

    import requests

    client = add_client(db_url)
    with api_server(db_url) as server:
        api = server.session(client)
        sound = api.upload(SOUNDS / "hello.wav", "hello")
        url = f"{api.base}/client/@me/sound/{sound['id']}/file"
        first = requests.get(url, headers={"Authorization": f"Bearer {api.token}"}, timeout=10)
        again = requests.get(url, headers={"Authorization": f"Bearer {api.token}",
                                           "If-None-Match": first.headers["ETag"]}, timeout=10)
    assert first.status_code == 200 and first.headers["ETag"]
    with wave.open(io.BytesIO(first.content)) as audio:
        assert (audio.getnchannels(), audio.getsampwidth(), audio.getframerate()) == (1, 2, 8000)
        assert audio.getnframes() > 8000  # hello.wav plays for seconds
    assert again.status_code == 304
