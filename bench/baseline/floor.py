"""The floor: the cheapest server that can play the bench's scripted calls.

A gevent ``StreamServer`` that sends each scenario's fixed command sequence
(the scenario comes from the ``bench_scenario`` channel variable the bench
dialplan sets), reading frames only to find the ones it must wait for: the
completion of a prompt, a key, the release of the channel.  No menu logic, no
validation, no metrics, no records, no timeouts beyond the menu's own.  It
shows the cost of the protocol itself.

    python -m bench.baseline.floor --port 18086 --sounds config/sounds
"""

from __future__ import annotations

from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402
import os  # noqa: E402
import socket  # noqa: E402

import gevent  # noqa: E402
from gevent.server import StreamServer  # noqa: E402

SLEEP = 0.5
FIRST_KEY_TIMEOUT = 0.5
INTER_DIGIT = 0.2
SOUNDS = "config/sounds"

COMPLETE = b"Event-Name: CHANNEL_EXECUTE_COMPLETE\n"
DTMF = b"Event-Name: DTMF\n"
NOTICE = b"Content-Type: text/disconnect-notice"


class Gone(Exception):
    pass


class Conn:
    __slots__ = ("sock", "buf")

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buf = b""

    def frame(self) -> tuple[bytes, bytes]:
        """The next frame's outer head and body."""
        while True:
            end = self.buf.find(b"\n\n")
            if end >= 0:
                head = self.buf[:end]
                at = head.find(b"Content-Length: ")
                if at < 0:
                    self.buf = self.buf[end + 2 :]
                    return head, b""
                stop = head.find(b"\n", at)
                n = int(head[at + 16 : stop if stop >= 0 else len(head)])
                if len(self.buf) >= end + 2 + n:
                    body = self.buf[end + 2 : end + 2 + n]
                    self.buf = self.buf[end + 2 + n :]
                    return head, body
            data = self.sock.recv(65536)
            if not data:
                raise Gone
            self.buf += data

    def wait(self, marker: bytes, app_uuid: bytes = b"", timeout: float | None = None) -> bool:
        """Skip frames until an event whose body starts with `marker` (and names `app_uuid`); False on timeout."""
        with gevent.Timeout(timeout, False):
            while True:
                head, body = self.frame()
                if head.find(NOTICE) >= 0:
                    raise Gone
                if body.startswith(marker) and (not app_uuid or body.find(app_uuid) >= 0):
                    return True
        return False


def _exec(app: str, arg: str, app_uuid: bytes) -> bytes:
    arg_line = f"execute-app-arg: {arg}\n" if arg else ""
    return (
        f"sendmsg\ncall-command: execute\nexecute-app-name: {app}\n{arg_line}Event-UUID: ".encode()
        + app_uuid
        + b"\n\n"
    )


def _uuids(uid: bytes) -> list[bytes]:
    # Distinct, well-formed Event-UUIDs derived from the channel's (no RNG per call).
    return [uid[:-2] + b"%02x" % i for i in range(6)]


def handle(sock: socket.socket, address: object) -> None:
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    c = Conn(sock)
    try:
        sock.sendall(b"connect\n\n")
        head, _ = c.frame()
        at = head.find(b"\nUnique-ID: ") + 12
        uid = head[at : head.find(b"\n", at)]
        at = head.find(b"\nvariable_bench_scenario: ") + 26
        scenario = head[at : head.find(b"\n", at)]
        u = _uuids(uid)
        sock.sendall(b"myevents\n\nlinger 30\n\n" + _exec("answer", "", u[0]))
        gevent.sleep(SLEEP)
        sock.sendall(_exec("playback", f"%[playback_terminators=none]{SOUNDS}/advertising.wav", u[1]))
        c.wait(COMPLETE, u[1])
        sock.sendall(_exec("playback", f"%[playback_terminators=any]{SOUNDS}/hello.wav", u[2]))
        if scenario == b"nokey":
            c.wait(COMPLETE, u[2])
            c.wait(b"\0", timeout=FIRST_KEY_TIMEOUT)
            destination = "050"
        elif scenario == b"two":
            c.wait(DTMF)
            sock.sendall(b"api uuid_break " + uid + b"\n\n")
            c.wait(b"\0", timeout=INTER_DIGIT)
            destination = "002"
        elif scenario == b"direct":
            c.wait(DTMF)
            sock.sendall(b"api uuid_break " + uid + b"\n\n")
            c.wait(DTMF)
            c.wait(DTMF)
            destination = "105"
        else:  # hangup, hold: wait for the caller to go
            c.wait(b"\0")
            return
        sock.sendall(_exec("transfer", f"{destination} XML default", u[3]))
        c.wait(COMPLETE, b"Application: socket\n")
    except (Gone, OSError):
        pass
    finally:
        try:
            sock.sendall(b"exit\n\n")
            with gevent.Timeout(2, False):
                while sock.recv(65536):
                    pass
        except OSError:
            pass
        sock.close()


def main() -> None:
    global SOUNDS
    p = argparse.ArgumentParser()
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--sounds", default="config/sounds")
    a = p.parse_args()
    SOUNDS = os.path.abspath(a.sounds)
    StreamServer((a.host, a.port), handle, backlog=1024).serve_forever()


if __name__ == "__main__":
    main()
