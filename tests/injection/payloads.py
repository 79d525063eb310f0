"""Hostile values, and the fields that reach FreeSWITCH, for the injection suite."""

from __future__ import annotations

# (name, payload): each is appended to an ordinary value of every field. Each is
# distinctive enough that finding it in a command means it got there.
PAYLOADS = [
    ("newline", "\nbgapi system owned"),
    ("CR LF header", "\r\nexecute-app-name: system"),
    ("encoded newline", "%0Aapi system id"),
    ("expansion", "${system(id)}"),
    ("api expansion", "${api(system touch /tmp/owned)}"),
    ("global expansion", "$${hostname}"),
    ("pipe: failover leg", "|sofia/gateway/evil/1"),
    ("comma: extra leg", ",sofia/gateway/evil/1"),
    ("leg variables", "{execute_on_answer=system id}"),
    ("per-leg variables", "[api_on_answer=system id]"),
    ("angle variables", "<leg_timeout=1>"),
    ("NUL", "\x00id"),
    ("ESC", "\x1b[2J"),
    ("space: extra argument", " XML evil"),
    ("tab", "\tid"),
    ("semicolon", ";id"),
    ("quotes", "'\"id"),
    ("array syntax", "^^:a:b"),
    ("inline app", "&bgapi(system id)"),
    ("backslash", "\\n"),
    ("path escape", "/../../etc/passwd"),
    ("scope variables", "%[execute_on_answer=system id]"),
    ("line separator", "\u2028id"),
    ("5,000 characters", "9" * 5000),
]

# Menu fields: (field, ordinary value the payload is appended to).
MENU_FIELDS = [
    ("transfer_dst", "050"),
    ("simple_transfer transfer_dst", "050"),
    ("lifetime_exp_transfer_dst", "050"),
    ("set_variable_name", "dept"),
    ("set_variable_value", "sales"),
    ("record_digits_variable", "acct"),
    ("sound filename", "hello"),
    ("caller_id_number", "123"),
    ("caller_id_name", "Bob"),
    ("play_digits digits", "12"),
]
# Settings checked at start-up: (field, ordinary value).
SETTING_FIELDS = [("transfer_context", "default"), ("simple_transfer_context", "ivr-simple"), ("bridge_template", "user/{number}")]
# What the switch itself hands over, per call: (field, ordinary value).
CALLER_FIELDS = [
    ("caller number", "79991234567"),
    ("caller name", "Caller"),
    ("channel variable for transfer_from_variable", "050"),
    ("channel variable for play_digits_from_variable", "12"),
    ("DTMF digit", ""),
]


def menu_data(values: dict[str, str]) -> dict[str, object]:
    """A menu using every field that reaches the switch, `values` overriding the ordinary ones."""
    v = {field: base for field, base in MENU_FIELDS} | values

    def ivr(extension: str, last: dict[str, str]) -> dict[str, object]:
        rules = [
            {"action": "set_variable", "set_variable_name": v["set_variable_name"], "set_variable_value": v["set_variable_value"]},
            {"action": "set_caller_id_number", "caller_id_number": v["caller_id_number"]},
            {"action": "set_caller_id_name", "caller_id_name": v["caller_id_name"]},
            {"action": "play_digits", "digits": v["play_digits digits"]},
            {"action": "play_sound", "sound": 1},
            {"action": "play_digits_from_variable", "play_digits_variable": "caller_digits"},
            {"action": "record_digits", "record_digits_variable": v["record_digits_variable"], "record_digits_max": 2},
            {"action": "transfer_from_variable", "transfer_variable": "callback"},
            last,
        ]
        return {
            "extension": extension, "entry_context": 1, "lifetime_exp_action": "transfer",
            "lifetime_exp_transfer_dst": v["lifetime_exp_transfer_dst"],
            "contexts": [{"id": 1, "timeout": 100, "options": {"start": rules}}],
        }

    return {
        "sounds": [{"id": 1, "filename": v["sound filename"] + ".wav"}],
        "ivrs": [
            ivr("071", {"action": "transfer", "transfer_dst": v["transfer_dst"]}),
            ivr("072", {"action": "transfer", "transfer_dst": "050,051"}),  # rings both: a bridge
            ivr("073", {"action": "simple_transfer", "transfer_dst": v["simple_transfer transfer_dst"]}),
        ],
    }
