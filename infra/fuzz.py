"""Schemathesis over every route of a running local-api, from its own
/openapi.json, as an owner of its own.

Before the run it creates what the generated requests can name (a git app
with a queued deployment, an upload app), so the routes behind an id are
reached, not only their 404s; after it, every app of that owner is deleted.
Passes when no check failed and at least FUZZ_MIN_CASES cases ran.

Needs SLIPWAY_API, SLIPWAY_TOKEN, FUZZ_DIR; FUZZ_MAX_EXAMPLES and
FUZZ_MIN_CASES are optional.
"""

import json
import os
import re
import subprocess
import sys
import urllib.request

API = os.environ["SLIPWAY_API"]
TOKEN = os.environ["SLIPWAY_TOKEN"]
OUT = os.environ["FUZZ_DIR"]
MAX_EXAMPLES = os.environ.get("FUZZ_MAX_EXAMPLES", "60")
MIN_CASES = int(os.environ.get("FUZZ_MIN_CASES", "1000"))
CHECKS = "not_a_server_error,status_code_conformance,response_schema_conformance,content_type_conformance"


def call(method, path, body=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(API + path, data=data, method=method)
    req.add_header("Authorization", "Bearer " + TOKEN)
    req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


def seed():
    status, git = call("POST", "/deploy", {"name": "fuzz-git", "repo": "https://github.com/acme/fuzz.git"})
    assert status == 202, (status, git)
    status, upload = call("POST", "/apps", {"name": "fuzz-upload"})
    assert status == 201, (status, upload)
    return [git["appId"], upload["id"]], [git["deploymentId"]]


def config(apps, deployments):
    # Half the cases name a real app or deployment; the other half whatever
    # the schema allows. A deleted seed app still answers 404, which is
    # documented, so the order of the cases does not matter.
    q = json.dumps
    return f"""
[dictionaries.apps]
values = {q(apps)}

[dictionaries.deployments]
values = {q(deployments)}

[[operations]]
include-path-regex = "^/apps/\\\\{{id\\\\}}"
parameters = {{ "path.id" = {{ dictionary = "apps", probability = 0.5 }} }}

[[operations]]
include-path-regex = "^/deployments/\\\\{{id\\\\}}"
parameters = {{ "path.id" = {{ dictionary = "deployments", probability = 0.5 }} }}

[[operations]]
include-path = "/apps/{{id}}/rollback"
parameters = {{ "path.id" = {{ dictionary = "apps", probability = 0.5 }}, "body.deploymentId" = {{ dictionary = "deployments", probability = 0.5 }} }}
"""


def cleanup():
    status, listed = call("GET", "/apps")
    assert status == 200, (status, listed)
    for app in listed["apps"]:
        call("DELETE", "/apps/" + app["id"])
    status, listed = call("GET", "/apps")
    return len(listed["apps"])


def main():
    os.makedirs(OUT, exist_ok=True)
    apps, deployments = seed()
    path = os.path.join(OUT, "schemathesis.toml")
    with open(path, "w") as f:
        f.write(config(apps, deployments))
    st = os.path.join(os.path.dirname(sys.executable), "st")
    cmd = [
        st, "--config-file", path, "run", API + "/openapi.json",
        "--header", "Authorization: Bearer " + TOKEN,
        "--checks", CHECKS,
        "--max-examples", MAX_EXAMPLES,
        "--workers", "2",
        "--seed", os.environ.get("FUZZ_SEED", "1"),
        "--no-color",
    ]
    try:
        # In its own directory: schemathesis keeps a cache where it runs.
        run = subprocess.run(cmd, capture_output=True, text=True, timeout=900, cwd=OUT)
    finally:
        left = cleanup()
    # The token stays out of what is printed.
    text = (run.stdout + run.stderr).replace(TOKEN, "<token>")
    with open(os.path.join(OUT, "schemathesis.log"), "w") as f:
        f.write(text)
    # All of it when something failed: each failure with its reproducing curl.
    print(text if run.returncode != 0 else text[-3000:])
    found = re.search(r"(\d+) generated", text)
    cases = int(found.group(1)) if found else 0
    failed = run.returncode != 0
    print(f"==> schemathesis: {cases} cases over every route, exit {run.returncode}, "
          f"{left} apps left after cleanup; the whole output is in {OUT}/schemathesis.log")
    if failed:
        sys.exit("schemathesis found failures (each with its reproducing curl above)")
    if cases < MIN_CASES:
        sys.exit(f"schemathesis ran {cases} cases, fewer than {MIN_CASES}")
    if left:
        sys.exit(f"{left} apps of the fuzz owner were left behind")


main()
