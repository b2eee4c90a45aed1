#!/usr/bin/env python3
"""Serves the bare Git repositories under ROOT over smart HTTP on 127.0.0.1,
through `git http-backend`, optionally behind HTTP Basic auth (any user name,
the token as password) — a stand-in for GitHub in the local stack and tests.

Prints `listening on http://127.0.0.1:PORT` once it accepts connections.
"""
import argparse
import base64
import hmac
import http.server
import os
import subprocess
import sys
import threading
import time


def read_body(handler):
    if handler.headers.get("Transfer-Encoding", "").lower() == "chunked":
        chunks = []
        while True:
            size = int(handler.rfile.readline().split(b";")[0].strip() or b"0", 16)
            if size == 0:
                handler.rfile.readline()
                break
            chunks.append(handler.rfile.read(size))
            handler.rfile.readline()
        return b"".join(chunks)
    length = int(handler.headers.get("Content-Length") or 0)
    return handler.rfile.read(length) if length else b""


def feed(pipe, body):
    try:
        pipe.write(body)
    except BrokenPipeError:
        pass
    finally:
        pipe.close()


def make_handler(root, token, hold=0.0, trickle=0.0):
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0"

        def log_message(self, fmt, *args):
            sys.stderr.write("git-http: " + (fmt % args) + "\n")

        def authorized(self):
            if token is None:
                return True
            auth = self.headers.get("Authorization", "")
            if not auth.startswith("Basic "):
                return False
            try:
                _, _, password = base64.b64decode(auth[6:]).decode().partition(":")
            except ValueError:
                return False
            return hmac.compare_digest(password.encode(), token.encode())

        def do_GET(self):
            self.serve()

        def do_POST(self):
            self.serve()

        def serve(self):
            body = read_body(self) if self.command == "POST" else b""
            if not self.authorized():
                self.send_response(401)
                self.send_header("WWW-Authenticate", 'Basic realm="slipway-git"')
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            path, _, query = self.path.partition("?")
            env = {
                "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                "GIT_PROJECT_ROOT": root,
                "GIT_HTTP_EXPORT_ALL": "1",
                "PATH_INFO": path,
                "QUERY_STRING": query,
                "REQUEST_METHOD": self.command,
                "CONTENT_TYPE": self.headers.get("Content-Type", ""),
                "CONTENT_LENGTH": str(len(body)),
                "REMOTE_USER": "git",
                "REMOTE_ADDR": "127.0.0.1",
                "GIT_PROTOCOL": self.headers.get("Git-Protocol", ""),
                "HTTP_GIT_PROTOCOL": self.headers.get("Git-Protocol", ""),
                "HTTP_CONTENT_ENCODING": self.headers.get("Content-Encoding", ""),
            }
            # The answer is streamed as `git http-backend` writes it, as
            # GitHub does: a large pack starts arriving while it is made.
            backend = subprocess.Popen(["git", "http-backend"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)
            feeder = threading.Thread(target=feed, args=(backend.stdin, body), daemon=True)
            feeder.start()
            status, headers = 200, []
            for raw in iter(backend.stdout.readline, b""):
                line = raw.decode("latin-1").rstrip("\r\n")
                if not line:
                    break
                name, _, value = line.partition(":")
                if name.lower() == "status":
                    status = int(value.strip().split()[0])
                elif name:
                    headers.append((name, value.strip()))
            slow = self.command == "POST"
            if slow and hold:
                time.sleep(hold)
            self.send_response(status)
            for name, value in headers:
                self.send_header(name, value)
            self.end_headers()
            try:
                while chunk := (backend.stdout.read(1 << 16) if slow and trickle else backend.stdout.read1(1 << 16)):
                    self.wfile.write(chunk)
                    if slow and trickle:
                        self.wfile.flush()
                        time.sleep(trickle)
            finally:
                backend.stdout.close()
                backend.wait()
                feeder.join()

    return Handler


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--root", required=True)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--token", help="require HTTP Basic auth with this password")
    parser.add_argument("--hold", type=float, default=0.0, help="a slow server: say nothing for this many seconds before answering each POST")
    parser.add_argument("--trickle", type=float, default=0.0, help="a slow link: pause this many seconds after each 64 KiB of a POST's answer")
    args = parser.parse_args()
    handler = make_handler(os.path.abspath(args.root), args.token, args.hold, args.trickle)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", args.port), handler)
    print(f"listening on http://127.0.0.1:{server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
