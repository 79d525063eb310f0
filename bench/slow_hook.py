"""`python -m bench.slow_hook --delay 2.0`: a webhook, in a process of its own, that answers slowly.

Every request to /hook is answered with an empty `<Response/>` after `--delay`
seconds; GET /stats says how many requests are in flight and how many were
answered (as JSON), so the bench can wait until all of them are out. Prints
`{"port": N}` once listening on 127.0.0.1; runs until terminated.
"""

from __future__ import annotations

from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402
import json  # noqa: E402
import resource  # noqa: E402
from collections.abc import Callable  # noqa: E402

import gevent  # noqa: E402
from gevent.pywsgi import WSGIServer  # noqa: E402

StartResponse = Callable[[str, list[tuple[str, str]]], object]


class SlowHook:
    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.in_flight = 0
        self.answered = 0

    def __call__(self, environ: dict[str, object], start_response: StartResponse) -> list[bytes]:
        if environ.get("PATH_INFO") == "/stats":
            start_response("200 OK", [("Content-Type", "application/json")])
            return [json.dumps({"in_flight": self.in_flight, "answered": self.answered}).encode()]
        self.in_flight += 1
        try:
            gevent.sleep(self.delay)
        finally:
            self.in_flight -= 1
        self.answered += 1
        start_response("200 OK", [("Content-Type", "application/xml")])
        return [b"<Response/>"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--delay", type=float, default=2.0, help="seconds before each reply")
    args = parser.parse_args()
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    server = WSGIServer(("127.0.0.1", 0), SlowHook(args.delay), log=None, error_log=None, backlog=4096)
    server.start()
    print(json.dumps({"port": server.server_port}), flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
