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
import os

import waitress
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    os.environ.setdefault("MOTO_PORT", str(args.port))
    waitress.serve(
        DomainDispatcherApplication(create_backend_app),
        host="127.0.0.1",
        port=args.port,
        # SQS long polls (runners, the push recorder, tests) each hold a
        # thread for up to 20 s; the pool must outnumber them.
        threads=64,
        connection_limit=1000,
        asyncore_use_poll=True,
        ident=None,
    )


if __name__ == "__main__":
    main()
