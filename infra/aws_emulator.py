#!/usr/bin/env python3
"""The local stand-in for AWS: moto's DynamoDB, SQS, S3 and KMS, served by
waitress on 127.0.0.1.

`moto_server` serves through Werkzeug's development server, which closes the
connection after every response, so each SDK call paid for a new connection
and a new thread; AWS endpoints keep connections alive and the SDK reuses
them. Waitress does too, which keeps the local stack's latency figures
comparable with production's.

    aws_emulator.py --port 4566
"""
import argparse
import functools
import os

# Nothing in a browser calls the emulator; moto would add CORS headers to
# every answer. Read when moto is imported.
os.environ.setdefault("MOTO_DISABLE_GLOBAL_CORS", "true")

import waitress  # noqa: E402
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app  # noqa: E402


def backend_app(service):
    """moto's app for one service, out of Flask's debug mode (which makes
    every request that reads a form check for forgotten file uploads)."""
    app = create_backend_app(service)
    app.debug = False
    return app


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    os.environ.setdefault("MOTO_PORT", str(args.port))
    app = DomainDispatcherApplication(backend_app)
    # Which backend serves a host is fixed, but moto works it out anew for
    # every request (listing its own package directory and matching every
    # service's URL patterns, under a lock all requests share).
    app.get_backend_for_host = functools.lru_cache(maxsize=1024)(app.get_backend_for_host)
    waitress.serve(
        app,
        host="127.0.0.1",
        port=args.port,
        # SQS long polls (runners, the push recorder, tests) each hold a
        # thread for up to 20 s; the pool must outnumber them.
        threads=64,
        connection_limit=1000,
        # Bodies stay in memory rather than spilling to temporary files
        # past 1 MB (source archives of hundreds of MB pass through S3).
        inbuf_overflow=1 << 30,
        outbuf_overflow=1 << 30,
        asyncore_use_poll=True,
        ident=None,
    )


if __name__ == "__main__":
    main()
