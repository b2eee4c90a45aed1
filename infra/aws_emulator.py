#!/usr/bin/env python3
"""The local stand-in for AWS: moto's DynamoDB, SQS, S3 and KMS, served by
waitress on 127.0.0.1.

`moto_server` serves through Werkzeug's development server, which closes the
connection after every response, so each SDK call paid for a new connection
and a new thread; AWS endpoints keep connections alive and the SDK reuses
them. Waitress does too, which keeps the local stack's latency figures
comparable with production's.

With --enforce-iam every request must be signed by an IAM user of the
emulator and be allowed by that user's policies, as on AWS. The operator's
user (`slipway-local`, key and secret `slipway-local`, allowed everything)
exists from the start; provision.py makes one user per function of
template.yaml from that function's statements.

    aws_emulator.py --port 4566 [--enforce-iam]
"""
import argparse
import functools
import json
import os
import sys
import threading
from urllib.parse import parse_qs

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


OPERATOR = "slipway-local"


def add_operator():
    """The operator's IAM user, with the fixed key the local stack's
    scripts, tests and slipway-admin sign with."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.iam.models import iam_backends

    iam = iam_backends[DEFAULT_ACCOUNT_ID]["aws"]
    iam.create_user("us-east-1", OPERATOR)
    everything = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
    iam.put_user_policy(OPERATOR, "operator", json.dumps(everything))
    key = iam.create_access_key(OPERATOR)
    del iam.access_keys[key.access_key_id]
    key.access_key_id = key.secret_access_key = OPERATOR
    iam.access_keys[key.access_key_id] = key


def presigned_by(query, region):
    """The credential scope of a presigned URL's signer (SigV4, or SigV2
    as boto3 still presigns S3 URLs), or None."""
    if "X-Amz-Credential" in query:
        return query["X-Amz-Credential"][0]
    if "AWSAccessKeyId" in query:
        return f"{query['AWSAccessKeyId'][0]}/00000000/{region}/s3/aws4_request"
    return None


def authorize_presigned_urls():
    """moto authenticates only requests with an Authorization header; a
    presigned URL carries its signer in the query string instead. Such a
    request is authorized as its signer, as on AWS (moto does not check a
    presigned URL's signature itself)."""
    from moto.core.authorization import ActionAuthenticatorMixin

    original = ActionAuthenticatorMixin._authenticate_and_authorize_action

    def authorize(self, iam_request_cls, resource="*"):
        if self.method == "OPTIONS":
            # A browser's CORS preflight is never signed; the bucket's CORS
            # rules answer it.
            return
        if "Authorization" not in self.headers:
            credential = presigned_by(parse_qs(self.parsed_url.query), self.region)
            if credential:
                headers = dict(self.headers)
                headers["Authorization"] = f"AWS4-HMAC-SHA256 Credential={credential}, SignedHeaders=host, Signature=-"
                request = iam_request_cls(
                    account_id=self.current_account,
                    method=self.method,
                    path=self.raw_path,
                    data=self.data,
                    body=b"",
                    headers=headers,
                    action=self._get_action(),
                )
                request.check_action_permitted(resource)
                return
        original(self, iam_request_cls, resource)

    ActionAuthenticatorMixin._authenticate_and_authorize_action = authorize


# AWS authorizes each item of a DynamoDB transaction by its own action;
# moto would ask for one action named after the call, which no policy for
# AWS grants.
TRANSACTION_ITEMS = {
    "dynamodb:TransactWriteItems": {"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem",
                                    "ConditionCheck": "ConditionCheckItem"},
    "dynamodb:TransactGetItems": {"Get": "GetItem"},
}


def check_as_aws():
    """Transactions authorized item by item, as AWS does. On stderr: each
    refused request (who, what, on which resource: moto's DynamoDB and KMS
    answer a refusal in XML, which their SDKs cannot read), and the first
    use of each grant ("IAM USED"), which shows the grants no test uses."""
    from moto.iam.access_control import IAMRequestBase

    original = IAMRequestBase.check_action_permitted

    used = set()

    def check_one(self, resource):
        try:
            original(self, resource)
        except Exception:
            print(f"IAM DENIED {self._access_key.arn} {self._action} {resource}", file=sys.stderr, flush=True)
            raise
        if (self._access_key.arn, self._action, resource) not in used:
            used.add((self._access_key.arn, self._action, resource))
            print(f"IAM USED {self._access_key.arn} {self._action} {resource}", file=sys.stderr, flush=True)

    def check(self, resource):
        kinds = TRANSACTION_ITEMS.get(self._action)
        if kinds is None:
            return check_one(self, resource)
        items = json.loads(self._body or b"{}").get("TransactItems", [])
        for action in sorted({kinds[kind] for item in items for kind in item}):
            self._action = f"dynamodb:{action}"
            check_one(self, resource)

    IAMRequestBase.check_action_permitted = check


def enforce_iam():
    from moto import settings

    add_operator()
    authorize_presigned_urls()
    check_as_aws()
    settings.INITIAL_NO_AUTH_ACTION_COUNT = 0


def atomic_dynamodb_writes():
    """DynamoDB applies each conditional write (and each transaction) as
    one: moto checks the condition and writes in two steps, so two threads
    of this server could both pass the check. One lock orders them."""
    from moto.dynamodb.models import DynamoDBBackend

    lock = threading.RLock()

    def serialized(method):
        @functools.wraps(method)
        def under_lock(*args, **kwargs):
            with lock:
                return method(*args, **kwargs)

        return under_lock

    for name in ("put_item", "update_item", "delete_item", "transact_write_items"):
        setattr(DynamoDBBackend, name, serialized(getattr(DynamoDBBackend, name)))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--enforce-iam", action="store_true")
    args = parser.parse_args()
    os.environ.setdefault("MOTO_PORT", str(args.port))
    atomic_dynamodb_writes()
    if args.enforce_iam:
        enforce_iam()
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
