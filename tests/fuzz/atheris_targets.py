"""Coverage-guided fuzz targets (atheris/libFuzzer) for the ESL reader and the menu loader.

    python tests/fuzz/atheris_targets.py frames CORPUS_DIR -max_total_time=600
    python tests/fuzz/atheris_targets.py menus CORPUS_DIR -max_total_time=600

A crash is any exception other than the documented ones; libFuzzer then writes
the input to crash-<hash> and exits non-zero. tests/fuzz/test_fuzz_atheris.py
runs each for a few seconds in CI.
"""

from __future__ import annotations

import sys

import atheris

with atheris.instrument_imports(include=["ivrflow"]):
    from ivrflow.freeswitch.framing import FrameReader
    from ivrflow.freeswitch.frames import ChannelData, EslEvent, Reply
    from ivrflow.menu import MenuError
    from ivrflow.menu.files import load_menu_text

GOOD = b"Content-Type: command/reply\nReply-Text: +OK\n\n"


def frames(data: bytes) -> None:
    reader = FrameReader(max_header_bytes=4096, max_body_bytes=8192)
    # the first byte picks where the input is cut in two, as two recv() calls would
    cut = data[0] * len(data) // 256 if data else 0
    for part in (data[:cut], data[cut:]):
        for frame in reader.feed(part):
            if isinstance(frame, (EslEvent, ChannelData)):
                for name in list(frame.headers):
                    frame.headers.get(name)
    reader.close()
    if reader.feed(GOOD) != [Reply("+OK", {"Content-Type": "command/reply"})]:
        raise AssertionError("the reader did not recover")


def menus(data: bytes) -> None:
    text = data.decode("utf-8", errors="replace")
    try:
        load_menu_text(text, "m.yaml")
    except MenuError:
        pass


if __name__ == "__main__":
    target = {"frames": frames, "menus": menus}[sys.argv.pop(1)]
    atheris.Setup(sys.argv, target)
    atheris.Fuzz()
