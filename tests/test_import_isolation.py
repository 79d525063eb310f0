"""The engine, the menu model and the ARI dialogue load no I/O library: their users import them alone."""

import json
import subprocess
import sys

import pytest

HEAVY = ("yaml", "pydub", "gevent", "prometheus_client", "greenswitch", "requests", "urllib3", "websocket")


@pytest.mark.parametrize(
    "module",
    ["ivrflow.engine", "ivrflow.menu", "ivrflow.menu.build", "ivrflow.webhooks.request", "ivrflow.webhooks.reply",
     "ivrflow.engine.speech", "ivrflow.asterisk.dialogue"],
)
def test_module_imports_no_io_library(module: str) -> None:
    probe = f"import sys, json; import {module}; print(json.dumps(sorted(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    loaded = set(json.loads(done.stdout))
    assert not [name for name in HEAVY if name in loaded], f"{module} pulled in {sorted(n for n in HEAVY if n in loaded)}"
