"""Run each atheris target for a few seconds on seeds from real frames and menus: no crash."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from .seeds import fs_streams, menu_texts

TARGETS = Path(__file__).with_name("atheris_targets.py")


def seeds(kind: str) -> list[bytes]:
    if kind == "frames":
        return [stream[:4000] for stream in fs_streams()]
    return [text.encode() for text in menu_texts()]


@pytest.mark.parametrize("kind", ["frames", "menus"])
def test_atheris_finds_no_crash(kind: str, tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for i, seed in enumerate(seeds(kind)):
        (corpus / f"seed-{i}").write_bytes(seed)
    done = subprocess.run(
        [sys.executable, str(TARGETS), kind, str(corpus), "-max_total_time=2", "-max_len=8192",
         f"-artifact_prefix={tmp_path}/", "-print_final_stats=1"],
        capture_output=True, text=True, timeout=120, cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    runs = [line for line in done.stderr.splitlines() if "stat::number_of_executed_units" in line]
    assert runs and int(runs[0].split(":")[-1]) > 100, done.stderr[-2000:]
    print(f"atheris {kind}: {runs[0].split(':')[-1].strip()} inputs")
