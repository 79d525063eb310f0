"""An emulated Asterisk 22 with ARI on loopback, for tests: REST and the events WebSocket on one port.

    emu = AriEmulator().start()
    emu.place_call(AriCallScript(exten="071", keys=[(1.0, "2")]))
    ...
    emu.stop()

Its behaviour follows the captures in the Asterisk transcripts: which events a
Stasis app sees and in what order, what a playback, `continue` or hangup does,
and the error bodies. `drop_websocket` cuts the app's socket (abruptly, or
silently: no more frames, no pongs), after which events are lost, not replayed.
"""

from __future__ import annotations

from collections.abc import Callable

from .ari_calls import place_call
from .ari_model import Asterisk, Channel
from .ari_rest import Rest
from .ari_script import AriCallScript
from .ari_server import AriServer, EventSocket

__all__ = ["AriEmulator"]


class AriEmulator:
    def __init__(
        self,
        *,
        user: str = "ivr",
        password: str = "ivrsecret",
        # The script of every leg the app dials; None: the script of the call that dials it.
        leg_script: Callable[[], AriCallScript] | None = None,
        # The sound names `GET /sounds` lists, in that order.
        sounds: tuple[str, ...] = (),
    ) -> None:
        self.user = user
        self.password = password
        self.asterisk = Asterisk(sounds)
        self.server = AriServer(self.asterisk, Rest(self.asterisk, leg_script), user, password)

    def start(self) -> AriEmulator:
        self.server.start()
        return self

    def stop(self) -> None:
        self.server.stop()

    def __enter__(self) -> AriEmulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        host, port = self.server.address
        return f"http://{host}:{port}"

    def place_call(self, script: AriCallScript, app: str = "ivrflow") -> Channel:
        """A caller reaches `Stasis(app, args)`; refused at once (STASISSTATUS=FAILED) if the app has no socket."""
        return place_call(self.asterisk, app, script)

    def channel(self, channel_id: str) -> Channel:
        """A live or ended channel, for assertions."""
        return self.asterisk.channels.get(channel_id) or self.asterisk.ended[channel_id]

    def event_sockets(self, app: str = "ivrflow") -> list[EventSocket]:
        return [s for s in self.server.sockets if s.open and app in s.app.split(",")]

    def drop_websocket(self, app: str = "ivrflow", *, silent: bool = False) -> None:
        """Cut the app's WebSockets; channels stay in Stasis and their events are dropped.

        Abruptly: the TCP connection closes and Asterisk knows the app is gone.
        Silently: frames and pongs stop but Asterisk still counts the app as
        connected until its next event fails, so a call may still enter Stasis unseen.
        """
        for s in self.event_sockets(app):
            if silent:
                s.silent = True
            else:
                s.close_abruptly()
                self.asterisk.detach(app, s.send_event)

    @property
    def close_websockets_on_accept(self) -> bool:
        return self.server.close_on_accept

    @close_websockets_on_accept.setter
    def close_websockets_on_accept(self, value: bool) -> None:
        """Accept every events WebSocket and close it cleanly at once (a peer that keeps hanging up)."""
        self.server.close_on_accept = value

    def end_prompt(self, playback_id: str) -> None:
        """The playback's current media item plays out now, as if its sound had ended."""
        self.asterisk.end_item_now(self.asterisk.playbacks[playback_id])

    @property
    def requests(self) -> list[tuple[str, str, dict[str, str]]]:
        return self.server.requests
