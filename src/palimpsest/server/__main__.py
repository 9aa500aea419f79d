"""``python -m palimpsest.server --repo kg.db [--host 127.0.0.1] [--port 8000] [--no-auth]
[--lock-wait SECONDS]``:
the same as ``palimpsest serve`` without the CLI extra."""

from __future__ import annotations

import argparse
import os

from . import serve


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m palimpsest.server",
                                     description="Serve a palimpsest repository over HTTP.")
    parser.add_argument("--repo", default=os.environ.get("PALIMPSEST_REPO", "palimpsest.db"),
                        help="SQLite file or postgresql:// URL (default: $PALIMPSEST_REPO or "
                             "palimpsest.db)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--no-auth", action="store_true",
                        help="no tokens: every caller is an admin (loopback hosts only)")
    parser.add_argument("--lock-wait", type=float, default=5.0, metavar="SECONDS",
                        help="how long a write waits for the write lock before answering 503 "
                             "(default 5)")
    args = parser.parse_args(argv)
    from .app import ServerConfig
    serve(args.repo, host=args.host, port=args.port, no_auth=args.no_auth,
          config=ServerConfig(lock_wait_seconds=args.lock_wait))


if __name__ == "__main__":
    main()
