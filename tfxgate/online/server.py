"""`tfxgate serve` as a process: the application (`serve.py`) on uvicorn, logging to stderr, the
GIL's switch interval short enough that a check need not wait behind a batch, and SIGTERM and SIGINT
taken here, so a clean shutdown (the requests in flight answered) exits cleanly.
"""

import logging
import signal
import sys

from tfxgate.online import serve, service

log = logging.getLogger("tfxgate.online.serve")

# A thread judging a batch or a window holds the GIL for up to this long before the event loop's
# thread may take it back (Python's default is 5 ms): a /v1/check waits for it at most about this.
SWITCH_SECONDS = 0.0005


def run(options: service.Options, host: str, port: int, threads: int = 2) -> int:
    """Loads what judges, then serves until SIGTERM or SIGINT; the requests in flight finish.
    Returns the exit status: 0 after SIGTERM, 130 after SIGINT (uvicorn would re-raise the signal
    once shut down; the handlers here take it instead, so a clean shutdown exits cleanly)."""
    import uvicorn

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    sys.setswitchinterval(SWITCH_SECONDS)
    app = serve.App(options, threads)
    app.load()
    config = uvicorn.Config(app, host=host, port=port, lifespan="on", access_log=False, log_level="warning",
                            http="h11", loop="asyncio", server_header=False,
                            timeout_graceful_shutdown=max(0.0, options.grace_seconds - serve.ANSWER_SECONDS / 2))

    class Server(uvicorn.Server):
        def handle_exit(self, sig, frame):
            if not self.should_exit:
                app.stopping(sig)
            super().handle_exit(sig, frame)

    server = Server(config)
    stopped_by = []
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda number, frame: stopped_by.append(number))
    log.info("serving on http://%s:%d", host, port)
    server.run()
    if stopped_by:
        log.info("stopped by %s; the requests in flight were answered", signal.Signals(stopped_by[0]).name)
    return 130 if signal.SIGINT in stopped_by else 0
