"""The daemon's menu source when menus come from the REST API, with last-good menus and sounds on disk.

`load` fetches everything (resources, then each sound file by id with its ETag),
validates it as the YAML loader does, and only then writes it to the cache. If
the API cannot be read, the last good menu from the cache is served, and said
so in the log, in metrics and in /readyz; a half-fetched menu is never served.
"""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge

from ..menu import LoadedMenu, MenuError, Problem, load_menu_data
from ..menu.sound_files import check_sound_files
from .assemble import fetch_menu_data
from .client import ApiClient, FetchError

log = logging.getLogger("ivrflow")
MENU_FILE = "menu.json"


@dataclass
class ApiMenuSource:
    api: ApiClient
    cache_dir: Path
    registry: CollectorRegistry | None = None
    serving_cached: str | None = field(default=None, init=False)
    _fetched_at: float | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        self.sound_dir.mkdir(parents=True, exist_ok=True)
        registry = self.registry or CollectorRegistry()
        self._failures = Counter("ivr_menu_fetch_failures", "menu fetches from the API that failed, by reason",
                                 ["reason"], registry=registry)
        age = Gauge("ivr_menu_source_age_seconds", "seconds since the serving menu was fetched from the API",
                    registry=registry)
        age.set_function(lambda: time.time() - self._fetched_at if self._fetched_at else float("nan"))

    @property
    def name(self) -> str:
        return self.api.base

    @property
    def sound_dir(self) -> Path:
        return self.cache_dir / "sounds"

    def load(self) -> LoadedMenu:
        try:
            data = self._fetch()
        except FetchError as exc:
            self._failures.labels(reason=exc.reason).inc()
            return self._cached(str(exc))
        loaded = self._validated(data, self.api.base)
        _write_atomic(self.cache_dir / MENU_FILE, json.dumps({"fetched_at": time.time(), "menu": data}).encode())
        self._fetched_at, self.serving_cached = time.time(), None
        return loaded

    def _fetch(self) -> dict[str, Any]:
        data = fetch_menu_data(self.api)
        for sound in data["sounds"]:
            sound["filename"] = self._download(sound["id"])
        return data

    def _download(self, sound_id: int) -> str:
        """The sound's telephony copy in the cache, fetched again only when its ETag changed."""
        name = f"{sound_id}.wav"
        target, tag_file = self.sound_dir / name, self.sound_dir / f"{sound_id}.etag"
        etag = tag_file.read_text() if tag_file.exists() and target.exists() else None
        reply = self.api.request("GET", f"/client/@me/sound/{sound_id}/file",
                                 headers={"If-None-Match": etag} if etag else {})
        if reply.status_code == 304:
            return name
        if reply.status_code != 200:
            raise FetchError("status", f"sound {sound_id} file: {reply.status_code}")
        _write_atomic(target, reply.content)
        _write_atomic(tag_file, reply.headers.get("ETag", "").encode())
        return name

    def _validated(self, data: dict[str, Any], source: str) -> LoadedMenu:
        loaded = load_menu_data(data, source)
        problems = list(check_sound_files(loaded.menu, self.sound_dir))
        if problems:
            raise MenuError(source, problems)
        return loaded

    def _cached(self, reason: str) -> LoadedMenu:
        path = self.cache_dir / MENU_FILE
        try:
            cached = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise MenuError(self.api.base, [Problem((), f"the API cannot be read ({reason}) and no cached menu is usable ({type(exc).__name__})")]) from exc
        source = f"{path} (cached; the API cannot be read)"
        loaded = self._validated(cached["menu"], source)
        self._fetched_at = float(cached["fetched_at"])
        self.serving_cached = f"serving cached menus fetched {time.time() - self._fetched_at:.0f} s ago: {reason}"
        log.warning("menu source %s: %s", self.api.base, self.serving_cached)
        return loaded


def _write_atomic(path: Path, data: bytes) -> None:
    partial = path.with_name(f".{path.name}.part")
    partial.write_bytes(data)
    os.replace(partial, path)
