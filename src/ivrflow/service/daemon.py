"""`ivrflow serve`: the long-running daemon.

Signal handlers (installed before READY=1) and POST /-/reload only enqueue;
one control greenlet does the work, as in gunicorn:

* SIGHUP or POST /-/reload: load and fully validate the menu again in a thread
  (reading, parsing and checking sound files never hold up a call), then swap
  it in with one assignment on the event loop. Calls in progress keep the menu
  they started with. Whatever goes wrong in a load (a MenuError, a
  RecursionError, a MemoryError...) rejects that reload, counted and logged,
  and the old menu keeps serving. Loads never overlap: requests that arrive
  while one runs are coalesced into the next load, and each request is answered
  with the result of a load that started after it arrived.
* SIGUSR1: log the counts a leak would grow (open calls, greenlets, loop watchers, open files).
* SIGTERM / SIGINT: stop accepting first (FreeSWITCH then falls through to the
  dialplan's fallback), let active calls finish up to `drain_timeout`, then
  hang up the rest with a logged reason. A second SIGTERM/SIGINT cuts the wait
  short: the calls still in a menu are hung up at once, each with its record.
"""

from __future__ import annotations

import dataclasses
import errno
import gc
import logging
import os
import signal
import sys
import time
from dataclasses import dataclass
from typing import IO, Any, Literal

import gevent
import gevent.event
import gevent.queue
from prometheus_client import CollectorRegistry

from .admin_http import AdminApp, serve as serve_admin
from ..menu import LoadedMenu, Menu, MenuError
from ..asterisk.dialogue import DialogueSettings
from ..asterisk.rest import load_credentials
from ..asterisk.service import AriService, sound_seconds_in
from ..calls.registry import CallRegistry
from ..calls.setup import CallSetup
from ..engine import CallOptions, SpeechRecognition, SpeechSynthesis, VoicemailOptions
from ..freeswitch.dialogue import SwitchSettings
from ..menu.checks import speech_problems
from ..menu.problems import Problem
from ..freeswitch.server import EslServer
from .menu_source import FileMenuSource, MenuSource
from ..menu_api.client import ApiClient, load_credentials as load_api_credentials
from ..menu_api.source import ApiMenuSource
from .metrics import Metrics
from ..calls.records import RecordWriter
from .observer import Observer
from .sd_notify import Notifier
from .gc_schedule import GcSchedule
from .settings import Settings
from .rating_post import RatingPoster
from .voicemail_work import SpoolBox
from .webhook_work import WebhookWork
from ..voicemail.mailer import Mailer, SmtpSettings
from ..voicemail.spool import Spool, SpoolError
from ..menu.sound_paths import sound_path
from ..webhooks.client import WebhookClient, WebhookSettings

log = logging.getLogger("ivrflow")

STATUS_EVERY = 5.0  # seconds between STATUS= updates to systemd
HANGUP_GRACE = 5.0  # seconds for calls hung up at the end of a drain to be let go
RELOAD_TIMEOUT = 60.0  # seconds a menu load may take before the reload is given up (a FIFO, a hung disk)
RELOAD_GAP = 1.0  # seconds between the end of one load and the next, when requests keep coming
LOAD_SWITCH_INTERVAL = 0.0005  # seconds; see _load_off_loop
STOP_SIGNALS = ("SIGTERM", "SIGINT")


class StartupError(Exception):
    """The daemon cannot start as configured; the message is one line for the operator."""


Request = tuple[str, "gevent.event.AsyncResult[tuple[bool, list[str]]] | None"]


class Daemon:
    def __init__(
        self,
        settings: Settings,
        registry: CollectorRegistry | None = None,
        notifier: Notifier | None = None,
        source: MenuSource | None = None,
    ) -> None:
        self.settings = settings
        self.registry = registry or CollectorRegistry()
        if source is None:
            source = _source_for(settings, self.registry)
        self.source = source
        self.metrics = Metrics(self.registry, lambda: self.calls.active)
        self.notifier = notifier or Notifier()
        self.loaded: LoadedMenu = self._log_warnings(self._load())  # a bad menu at start is fatal: MenuError
        self.metrics.known_ivrs(ivr.extension for ivr in self.loaded.menu.ivrs)
        self.metrics.reloads.labels(result="success").inc()
        self.metrics.config_last_success.set(time.time())
        self._records = _open_records(settings.call_records)
        self.ratings = _rating_poster(self.source, self.metrics)
        self.observer = Observer(
            self.metrics, RecordWriter(self._records), None if self.ratings is None else self.ratings.submit
        )
        switch = SwitchSettings(
            sound_dir=settings.sound_dir.resolve(),
            transfer_context=settings.transfer_context,
            simple_transfer_context=settings.simple_transfer_context,
            bridge_template=settings.bridge_template,
            exit_after_transfer=settings.exit_after_transfer,
            release_quiet_time=settings.release_quiet_time,
            allowed_variables=settings.allowed_variables,
        )
        self._control: gevent.queue.Queue[Request] = gevent.queue.Queue()
        self.calls = CallRegistry(settings.max_calls)
        self.calls.on_idle.append(lambda: self._control.put(("IDLE", None)))
        self.webhooks = WebhookClient(
            WebhookSettings(
                deadline_s=settings.webhook_deadline,
                allowed_hosts=settings.webhook_allowed_hosts or None,
                max_in_flight=settings.webhook_max_in_flight,
                allowed_variables=settings.allowed_variables,
            ),
            observe=self.metrics.webhook_done,
        )
        self.mailer, self._voicemail = _voicemail(settings)
        self.setup = CallSetup(
            CallOptions(hold_sound=_sound_setting(settings, "--webhook-hold-sound", settings.webhook_hold_sound),
                        webhook_deadline_s=settings.webhook_deadline),
            WebhookWork(self.webhooks, settings.client_prefix, self.metrics.webhook_done),
        )
        fs_setup = _with_voicemail(_with_speech(self.setup, settings), self._voicemail)
        self.server = EslServer(settings.esl_listen, self.current_menu, switch, self.observer, self.calls, fs_setup)
        self.ari = self._ari(settings) if settings.ari_url else None
        self.admin: Any = None
        self.draining = False
        self._reloader: gevent.Greenlet[[], None] | None = None
        self._reload_waiting: list[gevent.event.AsyncResult[tuple[bool, list[str]]] | None] = []

    def _ari(self, settings: Settings) -> AriService:
        try:
            credentials = load_credentials(file=settings.ari_credentials_file)
            sound_dir = settings.sound_dir.resolve()
            dialogue = DialogueSettings(
                app=settings.ari_app,
                sound_dir=sound_dir,
                transfer_context=settings.transfer_context,
                simple_transfer_context=settings.simple_transfer_context,
                dial_template=settings.ari_dial_template,
                sound_seconds=sound_seconds_in(sound_dir),
            )
            return AriService(
                settings.ari_url, settings.ari_app, credentials, self.current_menu, dialogue, self.observer, self.calls,
                on_reconnect=self.metrics.ari_reconnects.inc, setup=self.setup,
            )
        except ValueError as exc:
            raise StartupError(f"Asterisk (--ari-url): {exc}") from None

    # --- menu -------------------------------------------------------------------

    def current_menu(self) -> Menu:
        return self.loaded.menu

    def _load(self) -> LoadedMenu:
        """Load the menu (blocking work); any failure is a MenuError."""
        try:
            loaded = self.source.load()
        except MenuError:
            raise
        except Exception as exc:  # RecursionError, MemoryError, a bug in a check: the menu is not loadable
            raise MenuError(self.source.name, [Problem((), f"cannot load the menu: {_short(exc)}")]) from exc
        # A menu may not count on speech the runtime cannot give: refused like any other bad menu.
        problems = [] if self.settings.speech_engine else speech_problems(loaded.menu)
        if problems:
            raise MenuError(loaded.source, problems)
        return loaded

    def _log_warnings(self, loaded: LoadedMenu) -> LoadedMenu:
        for warning in loaded.warnings:
            log.warning("%s", warning.render(loaded.source))
        return loaded

    def _load_off_loop(self) -> LoadedMenu:
        # The loading thread holds the GIL while it parses; a short switch interval makes it
        # hand the GIL to the event loop within LOAD_SWITCH_INTERVAL instead of Python's 5 ms.
        interval = sys.getswitchinterval()
        sys.setswitchinterval(LOAD_SWITCH_INTERVAL)
        work = gevent.get_hub().threadpool.spawn(self._load)
        try:
            loaded: LoadedMenu = work.get(timeout=RELOAD_TIMEOUT)
            return loaded
        except gevent.Timeout:
            raise MenuError(self.source.name, [Problem((), f"loading took over {RELOAD_TIMEOUT:g} s; gave up")]) from None
        finally:
            sys.setswitchinterval(interval)

    def reload(self) -> tuple[bool, list[str]]:
        """Load the menu again off the event loop; swap it in only if it is entirely valid."""
        self.notifier.reloading()
        try:
            loaded = self._log_warnings(self._load_off_loop())
        except MenuError as exc:
            self.metrics.reloads.labels(result="failure").inc()
            messages = [p.render(exc.source) for p in exc.problems]
            log.error("reload rejected, the previous menu keeps serving: %s", "; ".join(messages))
            self.notifier.ready(self._status())
            return False, messages
        self.loaded = loaded  # one reference swap: a new call sees the old menu or the new, never a mix
        self.metrics.known_ivrs(ivr.extension for ivr in loaded.menu.ivrs)
        self.metrics.reloads.labels(result="success").inc()
        self.metrics.config_last_success.set(time.time())
        log.info("menu reloaded from %s (%d ivr(s))", loaded.source, len(loaded.menu.ivrs))
        self.notifier.ready(self._status())
        return True, [w.render(loaded.source) for w in loaded.warnings]

    def request_reload(self) -> tuple[bool, list[str]]:
        """For the HTTP listener: queue a reload for the control greenlet and wait for its result."""
        reply: gevent.event.AsyncResult[tuple[bool, list[str]]] = gevent.event.AsyncResult()
        self._control.put(("RELOAD", reply))
        result: tuple[bool, list[str]] = reply.get(timeout=RELOAD_TIMEOUT + HANGUP_GRACE)
        return result

    def _want_reload(self, reply: gevent.event.AsyncResult[tuple[bool, list[str]]] | None) -> None:
        self._reload_waiting.append(reply)
        if self._reloader is None:
            self._reloader = gevent.spawn(self._reload_while_wanted)

    def _reload_while_wanted(self) -> None:
        try:
            while self._reload_waiting:
                waiting, self._reload_waiting = self._reload_waiting, []
                result = self.reload()
                for reply in waiting:
                    if reply is not None:
                        reply.set(result)
                if self._reload_waiting:
                    # Back-to-back loads would share the CPU with the calls for as long as a
                    # flood lasts: the requests that came meanwhile gather for one later load.
                    gevent.sleep(RELOAD_GAP)
        finally:
            self._reloader = None

    # --- running ----------------------------------------------------------------

    def start(self) -> None:
        # What exists now (modules, the menu) lives as long as the process: keep it out
        # of the collector's way, so full collections scan only the calls' objects
        # (when they run: gc_schedule.py).
        gc.freeze()
        try:
            self.server.start()
        except OSError as exc:
            raise StartupError(_cannot_listen("for FreeSWITCH", "--esl-listen", self.settings.esl_listen, exc)) from None
        if self.mailer is not None:
            self.mailer.start()  # what the spool holds from before (a restart, a relay that was down) goes out now
        elif self._voicemail is not None:
            self._voicemail.box.spool.recover()  # without a relay too: finish what a crash interrupted
        if self.ari is not None:
            self.ari.start()
            log.info("Asterisk: ARI at %s, Stasis app %s", self.settings.ari_url, self.settings.ari_app)
        if self.settings.metrics_listen is not None:
            app = AdminApp(self.registry, self.readiness, self.request_reload, self.settings.admin_token,
                           self.readiness_detail)
            try:
                self.admin = serve_admin(self.settings.metrics_listen, app)
            except OSError as exc:
                raise StartupError(_cannot_listen("for HTTP", "--metrics-listen", self.settings.metrics_listen, exc)) from None
            log.info("metrics and health on http://%s:%d/", *self.admin.address[:2])
        self.notifier.ready(self._status())

    def run(self) -> int:
        """Serve until stopped; the exit status for the process."""
        # Before READY=1: a SIGHUP sent the moment systemd sees it must find its handler.
        for signum in (signal.SIGHUP, signal.SIGTERM, signal.SIGINT, signal.SIGUSR1):
            gevent.signal_handler(signum, self._control.put, (signal.Signals(signum).name, None))
        keepers: list[gevent.Greenlet[..., None]] = []
        try:
            self.start()
            keepers.append(gevent.spawn(GcSchedule(lambda: self.calls.open).run))
            keepers.append(gevent.spawn(self._report_status))
            if self.settings.menus_url and self.settings.menu_refresh > 0:
                keepers.append(gevent.spawn(self._refresh, self.settings.menu_refresh))
            if self.notifier.watchdog_interval:
                keepers.append(gevent.spawn(self._watchdog, self.notifier.watchdog_interval))
            while True:
                name, reply = self._control.get()
                if name in STOP_SIGNALS:
                    return self.drain()
                self._dispatch(name, reply)
        finally:
            gevent.killall(keepers)
            self.close()

    def _dispatch(self, name: str, reply: gevent.event.AsyncResult[tuple[bool, list[str]]] | None) -> None:
        if name in ("SIGHUP", "RELOAD"):
            self._want_reload(reply)
        elif name == "SIGUSR1":
            counts = {"open_calls": self.calls.open, **_counts()}
            log.info("counts: %s", " ".join(f"{k}={v}" for k, v in counts.items()))

    def drain(self) -> int:
        """Stop taking calls, let the active ones finish (bounded), hang up the rest."""
        self.draining = True
        self.server.stop_accepting()
        if self.ari is not None:
            self.ari.stop_accepting()
        timeout = self.settings.drain_timeout
        log.info("draining: no new calls; %d in a menu; waiting up to %s s", self.calls.active, timeout)
        self.notifier.stopping(f"draining {self.calls.active} call(s)", timeout + HANGUP_GRACE)
        if self._wait_idle(timeout) == "interrupted":
            reason = "second stop signal"
            log.warning("second stop signal: hanging up %d call(s) in a menu now", self.calls.active)
        else:
            reason = f"drain timeout of {timeout} s ran out"
        if self.calls.active:
            log.warning("hanging up %d call(s): %s", self.calls.active, reason)
            self.calls.hang_up_active(reason)
            self._wait_idle(HANGUP_GRACE, interruptible=False)
        # Transferred calls whose sockets are held: each is let go if its target is safe
        # without it; one still parked ends at FreeSWITCH when its socket closes with us.
        self.calls.release_held("ivrflow stopping")
        self._wait_all_closed(HANGUP_GRACE)
        if self.calls.held:
            log.warning("%d transferred call(s) still held (parked at their target): their sockets close as "
                        "ivrflow exits, and FreeSWITCH ends those calls", self.calls.held)
        log.info("stopped after draining: %d call(s) left in a menu, %d held", self.calls.active, self.calls.held)
        return 0

    def _wait_idle(self, seconds: float, interruptible: bool = True) -> str:
        """Wait until no call is in a menu: 'idle', 'timeout', or 'interrupted' by a stop signal."""
        deadline = time.monotonic() + seconds
        while self.calls.active:
            try:
                name, reply = self._control.get(timeout=max(deadline - time.monotonic(), 0.0))
            except gevent.queue.Empty:
                return "timeout"
            if name in STOP_SIGNALS:
                if interruptible:
                    return "interrupted"
            else:
                self._dispatch(name, reply)
        return "idle"

    def _wait_all_closed(self, seconds: float) -> None:
        closed = gevent.event.Event()
        self.calls.on_all_closed.append(closed.set)
        try:
            if self.calls.open:
                closed.wait(seconds)
        finally:
            self.calls.on_all_closed.remove(closed.set)

    def readiness(self) -> list[str]:
        problems = []
        if self.draining:
            problems.append("draining")
        if not self.server.accepting:
            problems.append("listener closed")
        if self.ari is not None and not self.ari.connected:
            problems.append("ARI events WebSocket down")
        if self.calls.at_capacity:
            problems.append(f"at capacity ({self.settings.max_calls} calls)")
        return problems

    def readiness_detail(self) -> dict[str, str]:
        cached = getattr(self.source, "serving_cached", None)
        return {"menu_source": self.source.name, **({"menu_cached": cached} if cached else {})}

    def _status(self) -> str:
        host, port = self.server.address
        return (
            f"{self.calls.active} active call(s), {self.calls.held} transferred and held; "
            f"listening on {host}:{port}; menu {self.loaded.source}"
        )

    def _report_status(self) -> None:
        while True:
            gevent.sleep(STATUS_EVERY)
            self.notifier.status(self._status())

    def _refresh(self, interval: float) -> None:
        # Menus from the API are fetched again as a reload: one path for SIGHUP and refresh.
        while True:
            gevent.sleep(interval)
            self._control.put(("SIGHUP", None))

    def _watchdog(self, interval: float) -> None:
        while True:
            self.notifier.watchdog()
            gevent.sleep(interval)

    def close(self) -> None:
        if isinstance(self.source, ApiMenuSource):
            self.source.api.close()
        self.server.stop_accepting()
        if self.ari is not None:
            self.ari.stop()
        self.webhooks.close()
        if self.ratings is not None:
            self.ratings.close()
        if self.mailer is not None:
            self.mailer.stop()
        if self.admin is not None:
            self.admin.stop(timeout=1)
        if self._records is not sys.stdout:
            self._records.close()


def _counts() -> dict[str, int]:
    """What a leak would grow: live greenlets, active event-loop watchers (timers, sockets), open files."""
    live = sum(1 for o in gc.get_objects() if isinstance(o, gevent.Greenlet) and not o.dead)
    return {
        "greenlets": live,
        "watchers": int(gevent.get_hub().loop.activecnt),
        "fds": len(os.listdir("/proc/self/fd")),
    }


def _sound_setting(settings: Settings, flag: str, name: str) -> str | None:
    """A sound file named by a setting, checked like a menu's sounds; None when empty."""
    if not name:
        return None
    try:
        path = sound_path(settings.sound_dir, name)
    except ValueError as exc:
        raise StartupError(f"{flag}: {exc}") from None
    if not path.is_file():
        raise StartupError(f"{flag}: {name!r} is not a file in the sound directory {settings.sound_dir}")
    return name


@dataclass(frozen=True, slots=True)
class _Voicemail:
    options: VoicemailOptions
    box: SpoolBox


def _voicemail(settings: Settings) -> tuple[Mailer | None, _Voicemail | None]:
    """The spool and mailer when voicemail_spool is set; every mistake in their settings is a StartupError."""
    if settings.voicemail_spool is None:
        return None, None
    root = settings.voicemail_spool.resolve()
    if any(c.isspace() for c in str(root)):  # the record app's argument is split on spaces
        raise StartupError(f"--voicemail-spool: {str(root)!r} has a space; FreeSWITCH's record cannot write there")
    try:
        spool = Spool(root)
    except SpoolError as exc:
        raise StartupError(f"--voicemail-spool: {exc}") from None
    options = VoicemailOptions(
        max_seconds=settings.voicemail_max_seconds,
        ring_seconds=settings.voicemail_ring_seconds,
        silence_threshold=settings.voicemail_silence_threshold,
        silence_seconds=settings.voicemail_silence_seconds,
        beep=_sound_setting(settings, "--voicemail-beep", settings.voicemail_beep),
    )
    mailer = Mailer(spool, _smtp(settings)) if settings.smtp_host else None
    return mailer, _Voicemail(options, SpoolBox(spool, mailer))


def _smtp(settings: Settings) -> SmtpSettings:
    password = None
    if settings.smtp_password_file is not None:
        try:
            password = settings.smtp_password_file.read_text(encoding="utf-8").rstrip("\r\n")
        except (OSError, UnicodeDecodeError) as exc:
            raise StartupError(f"--smtp-password-file: cannot read {settings.smtp_password_file}: {exc}") from None
    security: Literal["starttls", "tls", "none"] = settings.smtp_security  # type: ignore[assignment]  # checked by its choice()
    return SmtpSettings(
        host=settings.smtp_host, port=settings.smtp_port, security=security, username=settings.smtp_user or None,
        password=password, sender=settings.smtp_sender, ca_file=settings.smtp_ca_file,
    )


def _with_voicemail(setup: CallSetup, voicemail: _Voicemail | None) -> CallSetup:
    """FreeSWITCH calls' setup: the spool and how to record. ARI calls get none (the ARI adapter records
    nothing yet), so there an unanswered transfer on a vm_enabled ivr hangs up, with a notice."""
    if voicemail is None:
        return setup
    options = dataclasses.replace(setup.options, voicemail=voicemail.options)
    return dataclasses.replace(setup, options=options, voicemail=voicemail.box)


def _open_records(path: str) -> IO[str]:
    if path == "-":
        return sys.stdout
    try:
        return open(path, "a", encoding="utf-8")  # noqa: SIM115 (closed in Daemon.close)
    except OSError as exc:
        raise StartupError(f"cannot write call records to {path} (--call-records): {exc.strerror}") from None


def _cannot_listen(what: str, flag: str, address: tuple[str, int], exc: OSError) -> str:
    host, port = address
    where = f"cannot listen {what} on {host}:{port} ({flag})"
    if exc.errno == errno.EADDRINUSE:
        return f"{where}: the port is in use (another process listens there; choose another port)"
    if exc.errno == errno.EADDRNOTAVAIL:
        return f"{where}: no network interface of this machine has that address"
    return f"{where}: {exc.strerror or exc}"


def _short(exc: BaseException, limit: int = 300) -> str:
    text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return text if len(text) <= limit else text[:limit] + "..."


def _rating_poster(source: MenuSource, metrics: Metrics) -> RatingPoster | None:
    """Menus from the API get their ratings posted back; a client of its own, off the menu fetches' thread."""
    if not isinstance(source, ApiMenuSource):
        return None
    return RatingPoster(source.api.twin(), metrics.rating_posted)


def _with_speech(setup: CallSetup, settings: Settings) -> CallSetup:
    """FreeSWITCH calls' setup: the speech engines configured. ARI calls get none (ARI has no
    speech recognition or synthesis), so there voice_helper and TTS are skipped with a notice."""
    speech = SpeechRecognition(settings.speech_engine, settings.speech_grammar) if settings.speech_engine else None
    tts = SpeechSynthesis(settings.tts_engine, settings.tts_voice, settings.tts_voices) if settings.tts_engine else None
    return dataclasses.replace(setup, options=dataclasses.replace(setup.options, speech=speech, tts=tts))


def _source_for(settings: Settings, registry: CollectorRegistry) -> MenuSource:
    if not settings.menus_url:
        assert settings.menu is not None
        return FileMenuSource(settings.menu, settings.sound_dir, settings.allowed_variables)
    credentials = load_api_credentials(settings.api_credentials)
    return ApiMenuSource(ApiClient(settings.menus_url, credentials), settings.menu_cache, registry)
