"""Accept FreeSWITCH's outbound connections: one CallSession greenlet each."""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable
from typing import Any

import gevent.event
from gevent.server import StreamServer

from ..menu.model import Menu
from .call_session import CallObserver, CallSession, SwitchSettings

log = logging.getLogger("ivrflow.freeswitch")


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
        self.on_idle = on_idle  # called when the last call in a menu leaves it
        self.sessions: set[CallSession] = set()  # every open connection
        self.in_menu: set[CallSession] = set()  # connections whose call is still in a menu
        self.all_closed = gevent.event.Event()  # set while no connection is open
        self.all_closed.set()
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

    def release_held(self, reason: str) -> None:
        """Let go of transferred calls whose sockets are being held until they hang up."""
        for session in self.sessions - self.in_menu:
            session.shutdown(reason)

    def _handle(self, sock: socket.socket, address: Any) -> None:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if len(self.in_menu) >= self.max_calls:
            self.observer.call_rejected("capacity", f"{len(self.in_menu)} calls already in a menu")
            sock.close()  # FreeSWITCH's socket app fails and its dialplan goes on to the fallback
            return
        session = CallSession(sock, address, self.menu, self.settings, self.observer, self._left_menu)
        self.sessions.add(session)
        self.all_closed.clear()
        self.in_menu.add(session)
        try:
            session.run()
        finally:
            self.sessions.discard(session)
            self._left_menu(session)
            if not self.sessions:
                self.all_closed.set()

    def _left_menu(self, session: CallSession) -> None:
        if session in self.in_menu:
            self.in_menu.discard(session)
            if not self.in_menu and self.on_idle is not None:
                self.on_idle()
