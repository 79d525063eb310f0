"""Channel variables FreeSWITCH acts on by itself: a menu may not set them.

A variable set by `set_variable` (or written by `record_digits`) is exported
to the channel. Most names are inert data, but FreeSWITCH reads some of them
and acts: it runs an API command or a dialplan application (`api_hangup_hook`
= `system rm ...`), transfers, parks or hangs up the call after a bridge,
exports variables to the other leg, or changes how ivrflow's own commands
behave. The menu model is a hosted PBX's public API, so whoever writes a menu
must not reach any of them; an operator who means to can allow names one by
one (see `refusal`).

Where the names come from (FreeSWITCH 1.10 source):
- `src/include/switch_types.h`, the `SWITCH_*_VARIABLE` defines of hooks and
  controls: api_hangup_hook, api_reporting_hook, session_in_hangup_hook,
  api_after_bridge, api_before_bridge, continue_on_fail, hangup_after_bridge,
  park_after_bridge, park_after_early_bridge, transfer_after_bridge,
  transfer_after_early_bridge, exec_after_bridge_app/_arg, export_vars,
  bridge_export_vars, bypass_media, proxy_media, bypass_media_after_bridge,
  record_post_process_exec_app/_api, playback_terminators, max_forwards...
- `switch_channel_execute_on()` / `switch_channel_api_on()` in
  `src/switch_channel.c` run every variable whose name *starts with* the
  event's prefix, compared case-insensitively (`strncasecmp`): hence the
  `execute_on_` and `api_on_` prefix rules (answer, ring, media, originate,
  pre/post bridge, fax, record, sip_reinvite, avmd_beep...).
- `mod_dptools.c` / `switch_ivr_bridge.c`: bridge_pre_execute_*_app/_data,
  transfer_on_fail, continue_on_answer_timeout; `mod_event_socket.c`:
  socket_resume; `mod_spandsp`: system_on_fax_* (runs a shell command);
  `mod_loopback`: loopback_app/_arg; force_transfer_context/_dialplan.
- `switch_channel_export_variable_var_check()`: `_nolocal_` / `nolocal:`
  set a variable on the other leg only, so the name behind them is checked.
"""

from __future__ import annotations

from collections.abc import Collection

ACTING_NAMES = frozenset(
    {
        # hooks: run an API command or application at a call event
        "api_hangup_hook",
        "api_reporting_hook",
        "session_in_hangup_hook",
        "api_after_bridge",
        "api_before_bridge",
        "exec_after_bridge_app",
        "exec_after_bridge_arg",
        "record_post_process_exec_app",
        "record_post_process_exec_api",
        "loopback_app",
        "loopback_app_arg",
        "socket_resume",
        # what happens to the call after a bridge or a failure
        "continue_on_fail",
        "continue_on_answer_timeout",
        "hangup_after_bridge",
        "park_after_bridge",
        "park_after_early_bridge",
        "transfer_after_bridge",
        "transfer_after_early_bridge",
        "transfer_on_fail",
        "force_transfer_context",
        "force_transfer_dialplan",
        "uuid_bridge_continue_on_cancel",
        "uuid_bridge_park_on_cancel",
        # variables carried to the other leg, media path, loop guards
        "export_vars",
        "bridge_export_vars",
        "bypass_media",
        "bypass_media_after_bridge",
        "proxy_media",
        "max_forwards",
        "max_session_transfers",
        # ivrflow's own commands depend on these
        "playback_terminators",
        "sip_execute_on_image",
        "sip_api_on_image",
    }
)
# FreeSWITCH runs every variable starting with these (switch_channel_execute_on/api_on).
ACTING_PREFIXES = ("execute_on_", "api_on_", "bridge_pre_execute_", "exec_after_bridge_", "system_on_")
ACTING_SUFFIXES = ("_hangup_hook", "_reporting_hook")
# Set the variable on the other leg; the name behind the prefix is what FreeSWITCH sees.
LEG_PREFIXES = ("_nolocal_", "nolocal:")


def refusal(name: str, allowed: Collection[str] = ()) -> str | None:
    """Why a menu may not set `name`, or None. `allowed` holds names an operator explicitly permits."""
    if name in allowed:
        return None
    bare = name.lower()
    for prefix in LEG_PREFIXES:
        bare = bare.removeprefix(prefix)
    if bare in allowed:
        return None
    if bare in ACTING_NAMES:
        return f"{name!r} is a variable FreeSWITCH acts on by itself (a hook or call control)"
    for prefix in ACTING_PREFIXES:
        if bare.startswith(prefix):
            return f"{name!r} starts with {prefix!r}: FreeSWITCH runs such variables as commands"
    for suffix in ACTING_SUFFIXES:
        if bare.endswith(suffix):
            return f"{name!r} ends with {suffix!r}: FreeSWITCH runs such variables as commands"
    return None
