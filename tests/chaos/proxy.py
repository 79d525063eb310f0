"""A TCP proxy between the emulated switch and ivrflow that misbehaves as networks and switches do.

The emulator connects to ivrflow through it; frames from the switch are cut
at ESL frame boundaries so that one can be dropped, duplicated, delayed,
truncated, or the whole stream stalled, reset or left half-open.
"""

from __future__ import annotations

import random
import re
import socket
import struct
from dataclasses import dataclass

import gevent
from gevent import socket as gsocket
from gevent.server import StreamServer

FAULTS = (
    "none", "reset_before_connect_reply", "reset", "half_open", "drop_event", "duplicate_event",
    "delay_event", "truncate_frame", "stall",
)


UNIQUE_ID = re.compile(rb"\nUnique-ID: ([0-9a-f-]+)")


@dataclass
class Plan:
    """What goes wrong on one connection, and after how many switch frames."""

    fault: str
    after_frames: int
    stall_seconds: float = 0.0


def split_frames(buffer: bytearray) -> list[bytes]:
    """Complete ESL frames at the head of `buffer` (removed from it)."""
    frames = []
    while True:
        end = buffer.find(b"\n\n")
        if end < 0:
            return frames
        head = bytes(buffer[: end + 2])
        length = 0
        for line in head.split(b"\n"):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":", 1)[1].strip() or b"0")
        if len(buffer) < end + 2 + length:
            return frames
        frames.append(bytes(buffer[: end + 2 + length]))
        del buffer[: end + 2 + length]


def reset(sock: socket.socket) -> None:
    """Close with an RST instead of a FIN."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()
    except OSError:
        pass


class ChaosProxy:
    def __init__(self, upstream: tuple[str, int], rng: random.Random) -> None:
        self.upstream = upstream
        self.rng = rng
        self.plans: list[Plan] = []  # handed out in connection order
        self.connections = 0
        self.faults_done: dict[str, int] = {}
        self.fault_of: dict[str, str] = {}  # channel uuid -> the fault its connection got
        self._server = StreamServer(("127.0.0.1", 0), self._handle)

    @property
    def address(self) -> tuple[str, int]:
        host, port = self._server.address[:2]
        return host, port

    def start(self) -> None:
        self._server.start()

    def stop(self) -> None:
        self._server.stop(timeout=1)

    def _handle(self, switch: socket.socket, _address: object) -> None:
        plan = self.plans.pop(0) if self.plans else Plan("none", 0)
        try:
            ivrflow = gsocket.create_connection(self.upstream)
        except OSError:
            switch.close()
            return
        self.connections += 1
        to_switch = gevent.spawn(self._pump_plain, ivrflow, switch, plan)
        try:
            self._pump_frames(switch, ivrflow, plan)
        except OSError:
            pass  # ivrflow closed its side (it may, at any moment): this connection is over
        finally:
            if plan.fault == "half_open":
                to_switch.join(timeout=10)  # ivrflow's side stays open until ivrflow gives up
            to_switch.kill()
            for sock in (switch, ivrflow):
                try:
                    sock.close()
                except OSError:
                    pass

    def _done(self, fault: str) -> None:
        self.faults_done[fault] = self.faults_done.get(fault, 0) + 1

    def _pump_plain(self, source: socket.socket, sink: socket.socket, plan: Plan) -> None:
        """ivrflow → switch: commands pass as they are (unless the switch has gone half-open)."""
        try:
            while data := source.recv(65536):
                if plan.fault == "half_open" and plan.after_frames < 0:
                    continue  # swallowed: the switch side is dead
                sink.sendall(data)
        except OSError:
            pass

    def _pump_frames(self, switch: socket.socket, ivrflow: socket.socket, plan: Plan) -> None:
        """switch → ivrflow, frame by frame, with the plan's fault at its frame."""
        buffer = bytearray()
        sent = 0
        while True:
            try:
                data = switch.recv(65536)
            except OSError:
                return
            if not data:
                try:
                    ivrflow.shutdown(socket.SHUT_WR)
                except OSError:
                    pass
                return
            buffer += data
            for frame in split_frames(buffer):
                if sent == 0 and (found := UNIQUE_ID.search(frame)):
                    self.fault_of[found.group(1).decode()] = f"{plan.fault} at frame {plan.after_frames}"
                if sent == plan.after_frames and plan.fault != "none":
                    if not self._fault(plan, frame, switch, ivrflow):
                        return
                else:
                    ivrflow.sendall(frame)
                sent += 1

    def _fault(self, plan: Plan, frame: bytes, switch: socket.socket, ivrflow: socket.socket) -> bool:
        """Apply the fault at this frame; False ends the connection."""
        fault = plan.fault
        self._done(fault)
        is_event = b"text/event-" in frame[:200]
        if fault in ("reset_before_connect_reply", "reset"):
            reset(ivrflow)
            reset(switch)
            return False
        if fault == "half_open":
            plan.after_frames = -1  # from now on nothing crosses, and no side is closed
            reset(switch)
            gevent.sleep(self.rng.uniform(0.5, 3.0))
            return False
        if fault == "truncate_frame":
            ivrflow.sendall(frame[: max(1, len(frame) // 2)])
            ivrflow.close()
            return False
        if fault == "drop_event" and is_event:
            return True
        if fault == "duplicate_event" and is_event:
            ivrflow.sendall(frame + frame)
            return True
        if fault in ("delay_event", "stall"):
            gevent.sleep(plan.stall_seconds)
        ivrflow.sendall(frame)
        return True
