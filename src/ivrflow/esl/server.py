"""Accept FreeSWITCH's outbound connections: one CallSession greenlet each."""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable
from typing import Any

from gevent.server import StreamServer

from ..config.model import Menu
from .call_session import CallObserver, CallSession, SwitchSettings

log = logging.getLogger("ivrflow.esl")


class EslServer:
    """A gevent StreamServer: no polling, each accepted socket handled at once."""

    def __init__(
        self,
        listen: tuple[str, int],
        menu: Callable[[], Menu],
        settings: SwitchSettings,
        observer: CallObserver,
        max_calls: int = 10_000,
        on_idle: Callable[[], None] | None = None,
    ) -> None:
        self.menu = menu
        self.settings = settings
        self.observer = observer
        self.max_calls = max_calls
        self.on_idle = on_idle  # called when the last active call ends
        self.sessions: set[CallSession] = set()
        self._server = StreamServer(listen, self._handle, backlog=1024)

    @property
    def address(self) -> tuple[str, int]:
        host, port = self._server.address[:2]
        return host, port

    def start(self) -> None:
        self._server.start()
        log.info("listening for FreeSWITCH on %s:%d", *self.address)

    def stop_accepting(self) -> None:
        self._server.close()

    @property
    def accepting(self) -> bool:
        return not self._server.closed

    def _handle(self, sock: socket.socket, address: Any) -> None:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if len(self.sessions) >= self.max_calls:
            self.observer.call_rejected("capacity", f"{len(self.sessions)} calls already active")
            log.warning("refused a call: %d calls already active", len(self.sessions))
            sock.close()  # FreeSWITCH's socket app fails and its dialplan goes on to the fallback
            return
        session = CallSession(sock, address, self.menu, self.settings, self.observer)
        self.sessions.add(session)
        try:
            session.run()
        finally:
            self.sessions.discard(session)
            if not self.sessions and self.on_idle is not None:
                self.on_idle()
