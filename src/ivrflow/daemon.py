"""`ivrflow serve`: load the menu, listen for FreeSWITCH, run until told to stop."""

from __future__ import annotations

import logging
import signal
import sys
from dataclasses import dataclass
from pathlib import Path

import gevent
import gevent.event

from .call_log import LoggingObserver, RecordWriter
from .config import LoadedMenu, load_menu_file
from .esl.call_session import SwitchSettings
from .esl.server import EslServer

log = logging.getLogger("ivrflow")


@dataclass(frozen=True, slots=True)
class ServeOptions:
    config: Path
    sounds: Path
    listen: tuple[str, int] = ("127.0.0.1", 8084)
    transfer_context: str | None = None
    records: Path | None = None  # None: stdout


def parse_address(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not host:
        raise ValueError(f"{text!r} is not HOST:PORT")
    return host.strip("[]"), int(port)


class Daemon:
    def __init__(self, options: ServeOptions) -> None:
        self.options = options
        self.loaded: LoadedMenu = load_menu_file(options.config, options.sounds)
        for warning in self.loaded.warnings:
            log.warning("%s", warning.render(self.loaded.source))
        stream = open(options.records, "a", encoding="utf-8") if options.records else sys.stdout  # noqa: SIM115
        self.observer = LoggingObserver(RecordWriter(stream))
        settings = SwitchSettings(sound_dir=options.sounds.resolve(), transfer_context=options.transfer_context)
        self.server = EslServer(options.listen, lambda: self.loaded.menu, settings, self.observer)
        self.stopped = gevent.event.Event()

    def run(self) -> int:
        self.server.start()
        for signum in (signal.SIGTERM, signal.SIGINT):
            gevent.signal_handler(signum, self.stopped.set)
        self.stopped.wait()
        log.info("stopping: no new calls; %d active", len(self.server.sessions))
        self.server.stop_accepting()
        return 0
