#!/usr/bin/env python3
"""What `sam build` made of each Lambda function: its bootstrap's size,
unzipped and zipped as Lambda takes it, and its cold init (from starting the
process to its first request for an event, which a stand-in Runtime API on
loopback records; the median of RUNS starts).

    lambda_report.py --build .aws-sam/build --resources <env file> --seconds <sam build time>

Prints a table and writes the figures as JSON to --out.
"""
import argparse
import http.server
import io
import json
import os
import statistics
import subprocess
import threading
import time
import zipfile

RUNS = 9


def zipped_size(path):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        z.write(path, "bootstrap")
    return len(buffer.getvalue())


def cold_init_ms(bootstrap, env):
    first = {}

    class RuntimeApi(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            first.setdefault("at", time.monotonic())
            self.send_response(503)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), RuntimeApi)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    env = dict(env, AWS_LAMBDA_RUNTIME_API=f"127.0.0.1:{server.server_address[1]}")
    started = time.monotonic()
    process = subprocess.Popen([bootstrap], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while "at" not in first and time.monotonic() - started < 10:
        time.sleep(0.0002)
    process.kill()
    process.wait()
    server.shutdown()
    if "at" not in first:
        raise SystemExit(f"{bootstrap} never asked for an event")
    return (first["at"] - started) * 1000


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--build", required=True)
    parser.add_argument("--resources", required=True)
    parser.add_argument("--seconds", type=float, required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    env = dict(os.environ)
    with open(args.resources) as f:
        env.update(line.strip().split("=", 1) for line in f if "=" in line)
    env.update({
        "SLIPWAY_APPS_DOMAIN": "apps.example.com",
        "AWS_LAMBDA_FUNCTION_NAME": "report",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_LOG_STREAM_NAME": "report",
        "AWS_LAMBDA_LOG_GROUP_NAME": "report",
    })
    keys = json.load(open(env["SLIPWAY_LOCAL_PRINCIPALS"]))
    figures = {"samBuildSeconds": args.seconds, "functions": {}}
    print(f"sam build: {args.seconds:.0f} s")
    for function in sorted(os.listdir(args.build)):
        bootstrap = os.path.join(args.build, function, "bootstrap")
        if not os.path.exists(bootstrap):
            continue
        own = dict(env, AWS_ACCESS_KEY_ID=keys[function]["accessKeyId"],
                   AWS_SECRET_ACCESS_KEY=keys[function]["secretAccessKey"])
        inits = [cold_init_ms(bootstrap, own) for _ in range(RUNS)]
        row = {
            "bytes": os.path.getsize(bootstrap),
            "zippedBytes": zipped_size(bootstrap),
            "initMillisMedian": round(statistics.median(inits), 1),
            "initMillisMax": round(max(inits), 1),
        }
        figures["functions"][function] = row
        print(f"{function:20} {row['bytes'] / 1e6:5.1f} MB, zipped {row['zippedBytes'] / 1e6:4.2f} MB, "
              f"cold init {row['initMillisMedian']} ms (max {row['initMillisMax']})")
    with open(args.out, "w") as f:
        json.dump(figures, f, indent=2)


if __name__ == "__main__":
    main()
