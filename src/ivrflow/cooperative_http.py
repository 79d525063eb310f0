"""urllib3 connection pools on gevent's sockets: HTTP that yields to other calls, with nothing monkey-patched.

Shared by the ARI REST client and the webhook client.
"""

from __future__ import annotations

import socket

import gevent.socket
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import NewConnectionError


class CooperativeHTTPConnection(HTTPConnection):
    def _new_conn(self) -> socket.socket:
        # urllib3's own default-timeout marker is not a number gevent understands.
        timeout = self.timeout if isinstance(self.timeout, (int, float)) else None
        try:
            sock: socket.socket = gevent.socket.create_connection(
                (self._dns_host, self.port), timeout, source_address=self.source_address
            )
        except OSError as error:
            raise NewConnectionError(self, f"failed to connect: {error}") from error
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock


class CooperativeHTTPSConnection(CooperativeHTTPConnection, HTTPSConnection):
    pass


class CooperativeHTTPPool(HTTPConnectionPool):
    ConnectionCls = CooperativeHTTPConnection


class CooperativeHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = CooperativeHTTPSConnection


POOL_CLASSES = {"http": CooperativeHTTPPool, "https": CooperativeHTTPSPool}
