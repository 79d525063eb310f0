"""Accept FreeSWITCH's outbound connections: one CallSession greenlet each."""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable
from typing import Any

from gevent.server import StreamServer

from ..calls.observer import CallObserver
from ..calls.registry import CallRegistry
from ..calls.setup import CallSetup
from ..menu import Menu
from .connection import EslConnection
from .dialogue import SwitchSettings
from .session import CallSession

log = logging.getLogger("ivrflow.esl")


class EslServer:
    """A gevent StreamServer: no polling, each accepted socket handled at once."""

    def __init__(
        self,
        listen: tuple[str, int],
        menu: Callable[[], Menu],
        settings: SwitchSettings,
        observer: CallObserver,
        registry: CallRegistry,
        setup: CallSetup = CallSetup(),
    ) -> None:
        self.menu = menu
        self.setup = setup
        self.settings = settings
        self.observer = observer
        self.registry = registry
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
        session = CallSession(EslConnection(sock), self.menu, self.settings, self.observer, self.registry, self.setup)
        if not self.registry.admit(session):
            self.observer.call_rejected("capacity", f"{self.registry.active} calls already in a menu")
            session.conn.close()  # FreeSWITCH's socket app fails and its dialplan goes on to the fallback
            return
        session.run()
