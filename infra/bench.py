#!/usr/bin/env python3
"""Benchmarks of the deploy path, driven through the HTTP API like a user.

1. cold build vs cached redeploy (a code-only change on an app whose
   dependency layer is slow),
2. the cached redeploy again with the engine's image cache emptied (the
   cache then comes from the registry),
3. Slipway's trigger-to-running time vs the raw sequence
   `git clone --depth 1 && docker build && docker run` + wait,
4. an upload of a ~500 MB .zip: the runner's peak RSS while it fetches,
   converts, checks, unpacks and builds it, and the throughput,
5. the webhook's answer time (p50/p99) for signed pushes that queue a
   deployment and for ones that are ignored (another branch),
6. the latency the edge adds: p50/p99 through the edge (Caddy) and straight
   to the container in the same run, under the same bounded wrk load,
7. the clone: a ~200 MB repository (incompressible files) and one of ~1,000
   commits, the runner's peak RSS during each deployment (and with its
   clone process) and its clone phase next to `git clone --depth 1` of the
   same repository; then one
   more deployment of each with the runner held to 100 MB by a memory
   cgroup (where one can be made), which must still go live.
8. a lost host: two runners of the bench's own, each with its edge, at
   the production timing (a record every 5 s, lost 30 s after the last);
   the host running the app loses its runner, edge and container at once,
   and a client asks the other edge every 200 ms until the app answers
   again: the outage an app's users see.

A deployment counts as running once its page answers through the edge, at
the app's hostname.

BENCH_PARTS picks parts: "deploy" (1-3), "upload" (4), "webhook" (5),
"edge" (6), "clone" (7), "fleet" (8); all by default. The fleet part
stops the bench's runner and starts its own two (BENCH_BIN, the binaries;
BENCH_RUNNER_PRINCIPAL, a runner's AWS credentials as `KEY=value` words).

Needs SLIPWAY_API, SLIPWAY_TOKEN, SLIPWAY_REGISTRY, SLIPWAY_BASE_IMAGE, a
git server root (GIT_ROOT, served at GIT_BASE) and the runner's edge
(BENCH_EDGE_HTTP, its HTTP port on loopback). Prints a table and writes
the figures as JSON to BENCH_OUT.
"""
import hashlib
import hmac
import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.request

import boto3

API = os.environ["SLIPWAY_API"]
TOKEN = os.environ["SLIPWAY_TOKEN"]
REGISTRY = os.environ["SLIPWAY_REGISTRY"]
BASE = os.environ["SLIPWAY_BASE_IMAGE"]
GIT_ROOT = os.environ["GIT_ROOT"]
GIT_BASE = os.environ["GIT_BASE"]
SLOW_SECONDS = int(os.environ.get("BENCH_SLOW_SECONDS", "10"))
EDGE = int(os.environ["BENCH_EDGE_HTTP"])
# The clone part's memory cap, the target.
HELD_MB = 100

DOCKERFILE = f"""FROM {BASE}
# The slow dependency layer (think npm ci, cargo fetch, pip install).
RUN sleep {SLOW_SECONDS} && echo dependencies > /deps
COPY www/ /www/
EXPOSE 8080
CMD ["httpd", "-f", "-p", "8080", "-h", "/www"]
"""


def call(method, path, body=None):
    req = urllib.request.Request(
        API + path,
        method=method,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req) as resp:
        return json.load(resp)


def run(*args, cwd=None):
    subprocess.run(args, cwd=cwd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def answers(url, expect, host=None):
    req = urllib.request.Request(url, headers={"Host": host} if host else {})
    try:
        with urllib.request.urlopen(req, timeout=2) as resp:
            return expect in resp.read().decode()
    except OSError:
        return False


def hostname(app_id):
    return call("GET", f"/apps/{app_id}")["hostname"]


class Repo:
    def __init__(self, name):
        self.bare = os.path.join(GIT_ROOT, f"{name}.git")
        self.work = tempfile.mkdtemp(prefix="slipway-bench-")
        self.url = f"{GIT_BASE}/{name}.git"
        shutil.rmtree(self.bare, ignore_errors=True)
        run("git", "init", "-q", "--bare", "-b", "main", self.bare)
        run("git", "init", "-q", "-b", "main", cwd=self.work)

    def commit(self, page):
        os.makedirs(os.path.join(self.work, "www"), exist_ok=True)
        with open(os.path.join(self.work, "Dockerfile"), "w") as f:
            f.write(DOCKERFILE)
        with open(os.path.join(self.work, "www", "index.html"), "w") as f:
            f.write(page)
        run("git", "add", "-A", cwd=self.work)
        run("git", "-c", "user.name=bench", "-c", "user.email=bench@localhost", "commit", "-q", "-m", page, cwd=self.work)
        run("git", "push", "-q", "-f", self.bare, "main", cwd=self.work)


def until_running(deployment, page, edge=EDGE):
    host = None
    while True:
        d = call("GET", f"/deployments/{deployment}")
        if d["status"] == "running":
            host = host or hostname(d["appId"])
            if answers(f"http://127.0.0.1:{edge}/", page, host):
                return d
        if d["status"] in ("failed", "cancelled", "superseded"):
            raise SystemExit(f"deployment {deployment} ended {d['status']}: {d.get('error')}")
        time.sleep(0.05)


def slipway_deploy(app_id, name, repo, page):
    repo.commit(page)
    start = time.monotonic()
    if app_id is None:
        answer = call("POST", "/deploy", {"name": name, "repo": repo.url, "port": 8080})
    else:
        answer = call("POST", f"/apps/{app_id}/deploy")
    d = until_running(answer["deploymentId"], page)
    return answer["appId"], time.monotonic() - start, d


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def raw_sequence(repo, page, tag):
    repo.commit(page)
    workdir = tempfile.mkdtemp(prefix="slipway-raw-")
    port = free_port()
    start = time.monotonic()
    run("git", "clone", "-q", "--depth", "1", repo.url, os.path.join(workdir, "src"))
    run("docker", "build", "-q", "--no-cache", "-t", tag, os.path.join(workdir, "src"))
    run("docker", "run", "-d", "--name", tag.replace(":", "-"), "-p", f"127.0.0.1:{port}:8080", tag)
    while not answers(f"http://127.0.0.1:{port}/", page):
        time.sleep(0.05)
    elapsed = time.monotonic() - start
    run("docker", "rm", "-f", tag.replace(":", "-"))
    run("docker", "rmi", "-f", tag)
    shutil.rmtree(workdir, ignore_errors=True)
    return elapsed


def empty_local_cache(app_id):
    repo = f"{REGISTRY}/slipway/{app_id}"
    out = subprocess.run(
        ["docker", "images", repo, "--format", "{{.Repository}}:{{.Tag}}"], capture_output=True, text=True, check=True
    ).stdout.split()
    for tag in out:
        run("docker", "rmi", "-f", tag)


def deliver(app_id, secret, body, delivery):
    req = urllib.request.Request(
        f"{API}/webhooks/github/{app_id}",
        method="POST",
        data=body,
        headers={
            "Content-Type": "application/json",
            "X-GitHub-Event": "push",
            "X-GitHub-Delivery": delivery,
            "X-Hub-Signature-256": "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest(),
        },
    )
    start = time.monotonic()
    with urllib.request.urlopen(req) as resp:
        resp.read()
        status = resp.status
    return time.monotonic() - start, status


def runner_pid():
    return int(open(os.environ["BENCH_RUNNER_PIDFILE"]).read())


def tree_of(pid):
    """`pid` and its children (the runner and its clone process)."""
    pids = [pid]
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = open(f"/proc/{entry}/stat").read()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                pids.append(int(entry))
    return pids


class TreePeak:
    """The peak RSS of the runner and its children together (its clone
    process) while the block runs, sampled every 20 ms, and of it the
    anonymous part (heaps and stacks). RSS also counts file-backed pages,
    such as a received pack gix maps to read: clean page cache the kernel
    takes back under pressure."""

    def __enter__(self):
        import threading

        self.rss_kb, self.anon_kb, self.done = 0, 0, threading.Event()

        def sample():
            while not self.done.is_set():
                rss = anon = 0
                for pid in tree_of(runner_pid()):
                    try:
                        fields = dict(line.split(":", 1) for line in open(f"/proc/{pid}/status").read().splitlines() if ":" in line)
                        rss += int(fields.get("VmRSS", "0 kB").split()[0])
                        anon += int(fields.get("RssAnon", "0 kB").split()[0])
                    except (OSError, ValueError):
                        pass
                self.rss_kb, self.anon_kb = max(self.rss_kb, rss), max(self.anon_kb, anon)
                self.done.wait(0.02)

        self.thread = threading.Thread(target=sample, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.done.set()
        self.thread.join()

    @property
    def rss_mb(self):
        return round(self.rss_kb / 1024, 1)

    @property
    def anon_mb(self):
        return round(self.anon_kb / 1024, 1)


def peak_rss_reset():
    """Resets the runner's peak RSS (VmHWM), so the next figure is the next
    deployment's."""
    with open(f"/proc/{runner_pid()}/clear_refs", "w") as f:
        f.write("5")


def peak_rss_mb():
    status = open(f"/proc/{runner_pid()}/status").read()
    return round(int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:"))) / 1024, 1)


def clone_repo(name, megabytes, commits):
    """A repository whose last commit holds `megabytes` MB of incompressible
    files (in the build context, not copied into the image), after
    `commits` commits that each rewrite a 16 KB file."""
    bare = os.path.join(GIT_ROOT, f"{name}.git")
    work = tempfile.mkdtemp(prefix="slipway-bench-clone-")
    shutil.rmtree(bare, ignore_errors=True)
    run("git", "init", "-q", "--bare", "-b", "main", bare)
    run("git", "init", "-q", "-b", "main", cwd=work)
    os.makedirs(os.path.join(work, "www"))
    os.makedirs(os.path.join(work, "data"))
    with open(os.path.join(work, "Dockerfile"), "w") as f:
        f.write(f"FROM {BASE}\nCOPY www/ /www/\nEXPOSE 8080\nCMD [\"httpd\", \"-f\", \"-p\", \"8080\", \"-h\", \"/www\"]\n")
    with open(os.path.join(work, "www", "index.html"), "w") as f:
        f.write(name)
    for i in range(megabytes // 10):
        with open(os.path.join(work, "data", f"blob-{i}.bin"), "wb") as f:
            f.write(os.urandom(10 << 20))
    git = ["git", "-c", "user.name=bench", "-c", "user.email=bench@localhost"]
    for i in range(commits):
        with open(os.path.join(work, "data", "changing.bin"), "wb") as f:
            f.write(os.urandom(16 << 10))
        run("git", "add", "-A", cwd=work)
        run(*git, "commit", "-q", "-m", f"commit {i}", cwd=work)
    run("git", "push", "-q", "-f", bare, "main", cwd=work)
    # Packed, as a hosted repository is: loose objects would make the server
    # compress them again for every clone, the slowest part of both clones.
    run("git", "-C", bare, "repack", "-adq")
    shutil.rmtree(work, ignore_errors=True)
    size = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(bare) for f in fs)
    return f"{GIT_BASE}/{name}.git", size


def git_clone_seconds(url):
    work = tempfile.mkdtemp(prefix="slipway-bench-gitclone-")
    os.sync()
    start = time.monotonic()
    run("git", "clone", "-q", "--depth", "1", url, os.path.join(work, "src"))
    elapsed = time.monotonic() - start
    shutil.rmtree(work, ignore_errors=True)
    return elapsed


class MemoryHeld:
    """Moves the runner into a memory cgroup of its own capped at `mb` MB
    (page cache included: what a host's systemd `MemoryMax=` does) while the
    block runs, and back after. `peak_mb` is the cgroup's peak, `limited`
    whether the kernel had to hold the runner to the cap. Without a memory
    cgroup the kernel lets us make, `ok` is False and nothing is held."""

    def __init__(self, mb):
        self.limit, self.ok, self.peak_mb, self.limited = mb << 20, False, None, False

    def __enter__(self):
        try:
            v1 = os.path.isdir("/sys/fs/cgroup/memory")
            own = next(line.split(":", 2)[2] for line in open("/proc/self/cgroup").read().splitlines()
                       if line.split(":", 2)[1] == ("memory" if v1 else ""))
            base = "/sys/fs/cgroup/memory" if v1 else "/sys/fs/cgroup"
            self.home = os.path.join(base + own, "cgroup.procs")
            self.dir = os.path.join(base + own, f"slipway-bench-{os.getpid()}")
            os.makedirs(self.dir, exist_ok=True)
            self.files = ("memory.limit_in_bytes", "memory.max_usage_in_bytes", "memory.failcnt") if v1 \
                else ("memory.max", "memory.peak", "memory.events")
            with open(os.path.join(self.dir, self.files[0]), "w") as f:
                f.write(str(self.limit))
            with open(os.path.join(self.dir, "cgroup.procs"), "w") as f:
                f.write(str(runner_pid()))
            self.ok = True
        except (OSError, StopIteration):
            pass
        return self

    def __exit__(self, *exc):
        if not self.ok:
            return
        read = lambda name: open(os.path.join(self.dir, name)).read()
        self.peak_mb = round(int(read(self.files[1]).split()[0]) / (1 << 20), 1)
        if self.files[2] == "memory.failcnt":
            self.limited = int(read(self.files[2])) > 0
        else:
            self.limited = any(l.startswith("max ") and l.split()[1] != "0" for l in read(self.files[2]).splitlines())
        with open(self.home, "w") as f:
            f.write(str(runner_pid()))
        os.rmdir(self.dir)


def clone_figures(stamp):
    """Each repository deployed three times (a first deploy and two
    redeploys of the same commit, each clones it), next to three `git clone
    --depth 1`; medians compared."""
    figures = {}
    repos = {
        "large": (int(os.environ.get("BENCH_CLONE_MB", "200")), 1),
        "history": (0, int(os.environ.get("BENCH_CLONE_COMMITS", "1000"))),
    }
    for kind, (megabytes, commits) in repos.items():
        name = f"bench-clone-{kind}-{stamp}"
        url, size = clone_repo(name, megabytes, commits)
        peaks, trees, anons, clones = [], [], [], []
        app_id = None
        for _ in range(3):
            peak_rss_reset()
            os.sync()
            with TreePeak() as tree:
                if app_id is None:
                    answer = call("POST", "/deploy", {"name": name, "repo": url, "port": 8080})
                    app_id = answer["appId"]
                else:
                    answer = call("POST", f"/apps/{app_id}/deploy")
                d = until_running(answer["deploymentId"], name)
            peaks.append(peak_rss_mb())
            trees.append(tree.rss_mb)
            anons.append(tree.anon_mb)
            clones.append(d["phases"]["clone"]["millis"] / 1000)
        # Under the same sampler as Slipway's clones: its reads of /proc
        # take their share of the 2 cores from both alike.
        with TreePeak():
            gits = [git_clone_seconds(url) for _ in range(3)]
        slipway, git = median(clones), median(gits)
        os.sync()
        with MemoryHeld(HELD_MB) as held:
            d = until_running(call("POST", f"/apps/{app_id}/deploy")["deploymentId"], name)
        figures[kind] = {
            "bareRepoBytes": size,
            "commits": commits,
            "runnerPeakRssMB": max(peaks),
            "withCloneProcessPeakRssMB": max(trees),
            "withCloneProcessPeakAnonRssMB": max(anons),
            "cloneSeconds": round(slipway, 3),
            "cloneSecondsEach": clones,
            "gitCloneSecondsEach": [round(g, 3) for g in gits],
            "gitCloneDepth1Seconds": round(git, 3),
            "cloneVsGit": round(slipway / git, 2),
        }
        if held.ok:
            figures[kind]["heldTo"] = {
                "capMB": HELD_MB,
                "cgroupPeakMB": held.peak_mb,
                "capReached": held.limited,
                "cloneSeconds": d["phases"]["clone"]["millis"] / 1000,
            }
        print(f"  clone of a {size / 1e6:.0f} MB repository ({commits} commits): runner peak RSS {max(peaks)} MB "
              f"(target <= 100 MB); with its clone process {max(trees)} MB, of it anonymous {max(anons)} MB; clone {slipway:.3f} s vs git clone --depth 1 {git:.3f} s = {slipway / git:.2f} x "
              f"(target <= 1.5)")
        if held.ok:
            print(f"    held to {HELD_MB} MB (a memory cgroup, page cache included): went live, clone "
                  f"{d['phases']['clone']['millis'] / 1000:.3f} s, cgroup peak {held.peak_mb} MB"
                  f"{', the cap reached: the kernel reclaimed the pack it maps' if held.limited else ''}")
        else:
            print("    not held to a memory cap: no memory cgroup could be made here")
        call("DELETE", f"/apps/{app_id}")
    return figures


def upload_rss(stamp):
    """A ~500 MB zip (incompressible content) through the runner."""
    import zipfile

    megabytes = int(os.environ.get("BENCH_UPLOAD_MB", "480"))
    name = f"bench-upload-{stamp}"
    work = tempfile.mkdtemp(prefix="slipway-bench-upload-")
    archive = os.path.join(work, "app.zip")
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as z:
        z.writestr("Dockerfile", f"FROM {BASE}\nCOPY www/ /www/\nCOPY blob /blob\nEXPOSE 8080\nCMD [\"httpd\", \"-f\", \"-p\", \"8080\", \"-h\", \"/www\"]\n")
        z.writestr("www/index.html", name)
        with z.open("blob", "w", force_zip64=True) as f:
            for _ in range(megabytes):
                f.write(os.urandom(1 << 20))
    size = os.path.getsize(archive)
    app = call("POST", "/apps", {"name": name, "port": 8080})
    url = call("POST", f"/apps/{app['id']}/source", {"format": "zip", "size": size})
    with open(archive, "rb") as f:
        req = urllib.request.Request(url["uploadUrl"], method="PUT", data=f, headers=url["headers"])
        urllib.request.urlopen(req).read()
    peak_rss_reset()
    start = time.monotonic()
    with TreePeak() as tree:
        d = until_running(call("POST", f"/apps/{app['id']}/deploy")["deploymentId"], name)
    elapsed = time.monotonic() - start
    peak = peak_rss_mb()
    phases = {k: v.get("millis") for k, v in d["phases"].items()}
    fetch_s = phases.get("fetch", 0) / 1000
    figures = {
        "zipBytes": size,
        "runnerPeakRssMB": peak,
        "runnerPeakAnonRssMB": tree.anon_mb,
        "triggerToRunningSeconds": round(elapsed, 2),
        "phasesMillis": phases,
        "fetchConvertUnpackMBPerSecond": round(size / 1e6 / fetch_s, 1) if fetch_s else None,
    }
    print(f"  upload of a {size / 1e6:.0f} MB zip: runner peak RSS {figures['runnerPeakRssMB']} MB, "
          f"of it anonymous {tree.anon_mb} MB (target <= 100 MB), "
          f"fetch+convert+check+unpack {fetch_s:.1f} s = {figures['fetchConvertUnpackMBPerSecond']} MB/s, "
          f"trigger to running {elapsed:.1f} s, phases {phases}")
    call("DELETE", f"/apps/{app['id']}")
    shutil.rmtree(work, ignore_errors=True)
    return figures


def stop_runner():
    pidfile = os.environ.get("BENCH_RUNNER_PIDFILE")
    if pidfile and os.path.exists(pidfile):
        pid = int(open(pidfile).read())
        try:
            os.kill(pid, 15)
            while True:
                os.kill(pid, 0)
                time.sleep(0.1)
        except ProcessLookupError:
            pass


class FleetHost:
    """A build host of the fleet part: a runner with its own Caddy edge, at
    the production timing (the runner's defaults)."""

    def __init__(self, runner_id, work):
        self.id, self.procs = runner_id, []
        self.http = free_port()
        admin, https, ask = free_port(), free_port(), free_port()
        data = os.path.join(work, runner_id)
        os.makedirs(data, exist_ok=True)
        with open(os.path.join(data, "init.json"), "w") as f:
            json.dump({"admin": {"listen": f"127.0.0.1:{admin}"}}, f)
        log = open(os.path.join(data, "output.log"), "w")
        self.procs.append(subprocess.Popen(
            ["caddy", "run", "--config", os.path.join(data, "init.json")],
            env={**os.environ, "XDG_DATA_HOME": data, "XDG_CONFIG_HOME": data},
            stdout=log, stderr=subprocess.STDOUT))
        principal = dict(word.split("=", 1) for word in os.environ["BENCH_RUNNER_PRINCIPAL"].split())
        self.procs.append(subprocess.Popen(
            [os.path.join(os.environ["BENCH_BIN"], "slipway-runner")],
            env={**os.environ, **principal,
                 "SLIPWAY_RUNNER_ID": runner_id, "SLIPWAY_WORK_DIR": os.path.join(data, "work"),
                 "SLIPWAY_EDGE_ADMIN": f"127.0.0.1:{admin}", "SLIPWAY_EDGE_HTTP": f"127.0.0.1:{self.http}",
                 "SLIPWAY_EDGE_HTTPS": f"127.0.0.1:{https}", "SLIPWAY_EDGE_ASK": f"127.0.0.1:{ask}",
                 "SLIPWAY_EDGE_TLS": "internal", "SLIPWAY_EDGE_REDIRECT_HTTP": "false"},
            stdout=log, stderr=subprocess.STDOUT))

    def lose(self):
        """The host is gone at once: no drain, no hand-over."""
        for proc in self.procs:
            proc.kill()
            proc.wait()

    def stop(self):
        for proc in self.procs:
            proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def fleet_presence():
    """Each runner's presence, as `slipway-admin runners --json` tells an operator."""
    out = subprocess.run([os.path.join(os.environ["BENCH_BIN"], "slipway-admin"), "runners", "--json"],
                         capture_output=True, text=True, check=True, timeout=60).stdout
    return {r["id"]: r["presence"] for r in json.loads(out)}


def fleet_outage(stamp):
    stop_runner()
    work = tempfile.mkdtemp(prefix="slipway-bench-fleet-")
    hosts = [FleetHost(f"bench-{stamp}-{n}", work) for n in ("b", "c")]
    app_id = None
    try:
        deadline = time.monotonic() + 60
        while any(fleet_presence().get(h.id) != "live" for h in hosts):
            if time.monotonic() > deadline:
                raise SystemExit("the fleet part's runners did not come up within 60 s")
            time.sleep(0.5)
        name = f"bench-fleet-{stamp}"
        page = f"{name} v1"
        repo = Repo(name)
        repo.commit(page)
        answer = call("POST", "/deploy", {"name": name, "repo": repo.url, "port": 8080})
        app_id = answer["appId"]
        until_running(answer["deploymentId"], page, hosts[0].http)
        on = subprocess.run(["docker", "ps", "--filter", f"label=slipway.app={app_id}",
                             "--format", '{{.Label "slipway.runner"}}'],
                            capture_output=True, text=True, check=True).stdout.split()
        lost = next(h for h in hosts if h.id == on[0])
        other = next(h for h in hosts if h is not lost)
        host = hostname(app_id)
        start = time.monotonic()
        lost.lose()
        containers = subprocess.run(["docker", "ps", "-aq", "--filter", f"label=slipway.app={app_id}"],
                                    capture_output=True, text=True, check=True).stdout.split()
        subprocess.run(["docker", "rm", "-f", *containers], check=True, stdout=subprocess.DEVNULL)
        outage = None
        while time.monotonic() - start < 120:
            if answers(f"http://127.0.0.1:{other.http}/", page, host):
                outage = time.monotonic() - start
                break
            time.sleep(0.2)
        if outage is None:
            raise SystemExit("the lost host's app did not answer again within 120 s")
        triggers = [d["trigger"] for d in call("GET", f"/apps/{app_id}/deployments")["deployments"]]
        figures = {"outageSeconds": round(outage, 1), "runnerDeadlineSeconds": 30,
                   "announceSeconds": 5, "failovers": triggers.count("failover")}
        print(f"  a lost host: its app answered again through another edge {outage:.1f} s after the host died "
              f"(runners lost 30 s after their last record, one every 5 s; target <= 45 s); "
              f"{figures['failovers']} failover deployment")
        return figures
    finally:
        if app_id:
            call("DELETE", f"/apps/{app_id}")
        for h in hosts:
            h.stop()
        shutil.rmtree(work, ignore_errors=True)


def percentile(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


# How long the webhook remembers an app it read (functions/src/recent_apps.rs).


def webhook_latency(stamp):
    """Signed deliveries one after another: a busy repo's pushes (the API
    has read its app moments before), the first push of each of several apps
    (it has not, nor opened its webhook secret), a later push of each of
    them, and pushes to another branch."""
    count = int(os.environ.get("BENCH_WEBHOOKS", "200"))
    firsts = int(os.environ.get("BENCH_WEBHOOK_APPS", "100"))
    name = f"bench-hook-{stamp}"
    repo = Repo(name)
    repo.commit(f"{name} v1")
    stop_runner()
    apps = []
    for i in range(firsts + 1):
        answer = call("POST", "/deploy", {"name": f"{name}-{i}", "repo": repo.url, "port": 8080})
        apps.append((answer["appId"], answer["webhook"]["secret"]))
    sqs = boto3.client("sqs")
    take_jobs(sqs, 0)
    sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo.work, capture_output=True, text=True, check=True).stdout.strip()
    busy = apps[0]
    # (kind, deliveries, ref, expected status, what, seconds to wait first)
    runs = (
        ("queued", [busy] * count, "refs/heads/main", 202, "pushes of a busy repo", 0),
        ("first", apps[1:], "refs/heads/main", 202, "first pushes of apps the webhook never read", 0),
        # The app is read again (every delivery reads it), its opened
        # secret is still known.
        ("later", apps[1:], "refs/heads/main", 202, "later pushes of those apps", 0),
        ("ignored", [busy] * count, "refs/heads/other", 200, "pushes to another branch", 0),
    )
    figures = {}
    for kind, targets, ref, expect, what, pause in runs:
        time.sleep(pause)
        times = []
        for i, (app_id, secret) in enumerate(targets):
            body = json.dumps({
                "ref": ref, "before": "0" * 40, "after": sha, "created": False, "deleted": False,
                "commits": [{"id": sha, "message": "m", "added": [], "removed": [], "modified": ["www/index.html"]}],
                "repository": {"id": 1, "full_name": "acme/app", "pushed_at": int(time.time())},
            }).encode()
            elapsed, status = deliver(app_id, secret, body, f"bench-{stamp}-{kind}-{i}")
            if status != expect:
                raise SystemExit(f"webhook answered {status}, expected {expect}")
            times.append(elapsed * 1000)
            take_jobs(sqs, 1 if expect == 202 else 0)
        figures[kind] = {"count": len(times), "p50Millis": round(percentile(times, 50), 2), "p99Millis": round(percentile(times, 99), 2), "maxMillis": round(max(times), 2)}
        print(f"  webhook, {kind:7}  p50 {figures[kind]['p50Millis']:6.2f} ms   p99 {figures[kind]['p99Millis']:6.2f} ms   max {figures[kind]['maxMillis']:6.2f} ms   ({len(times)} {what}; target p99 <= 20 ms)")
    figures["emulatorCallMillisP50"] = emulator_call_millis(busy[0])
    print(f"  (the emulator: one DynamoDB GetItem p50 {figures['emulatorCallMillisP50']:.2f} ms; before answering, a queued push makes 4 AWS calls in 3 rounds (a consistent read of the app, then deployment and delivery written at once, then the push queued); a first push adds a KMS decrypt of its webhook secret; an ignored one makes 1)")
    for app_id, _ in apps:
        call("DELETE", f"/apps/{app_id}")
    return figures


def take_jobs(sqs, expected):
    """Takes the jobs off the queue, untimed, as the runners would.

    A queued push's job is sent by the push recorder a moment after the
    webhook answered; waiting for it and for the recorder to be done keeps
    that work out of the next delivery's time (on AWS it runs in another
    function, here it shares the emulator). And with the runner stopped jobs would pile up: the
    emulator's SendMessage walks every message in the queue (it recounts
    them for the queue's attributes), so a growing queue would slow each
    push measured after it.
    """
    taken = 0
    deadline = time.monotonic() + 30
    while True:
        got = sqs.receive_message(QueueUrl=os.environ["SLIPWAY_QUEUE_URL"], MaxNumberOfMessages=10, WaitTimeSeconds=0)
        messages = got.get("Messages", [])
        if messages:
            sqs.delete_message_batch(
                QueueUrl=os.environ["SLIPWAY_QUEUE_URL"],
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)],
            )
            taken += len(messages)
        elif taken >= expected and push_recorder_idle(sqs):
            return
        elif time.monotonic() > deadline:
            raise SystemExit("the push recorder sent no job within 30 s")
        else:
            time.sleep(0.005)


def push_recorder_idle(sqs):
    """No push waiting or being handled (the recorder deletes a push last)."""
    got = sqs.get_queue_attributes(
        QueueUrl=os.environ["SLIPWAY_PUSH_QUEUE_URL"],
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )
    return all(v == "0" for v in got["Attributes"].values())


def emulator_call_millis(app_id):
    """What one AWS call costs against the local emulator, for reading the figures above."""
    ddb = boto3.client("dynamodb")
    times = []
    for _ in range(100):
        start = time.monotonic()
        ddb.get_item(TableName=os.environ["SLIPWAY_TABLE"], Key={"PK": {"S": f"APP#{app_id}"}, "SK": {"S": "APP"}}, ConsistentRead=True)
        times.append((time.monotonic() - start) * 1000)
    return round(percentile(times, 50), 2)


def median(values):
    ordered = sorted(values)
    return ordered[len(ordered) // 2]


def main():
    parts = os.environ.get("BENCH_PARTS", "deploy,upload,clone,edge,webhook,fleet").split(",")
    stamp = str(int(time.time()))
    figures = {}
    if "deploy" in parts:
        figures.update(deploy_figures(stamp))
    if "upload" in parts:
        figures["upload"] = upload_rss(stamp)
    if "clone" in parts:
        figures["clone"] = clone_figures(stamp)
    # Before the webhook part, which stops the runner.
    if "edge" in parts:
        figures["edge"] = edge_latency(stamp)
    if "webhook" in parts:
        figures["webhook"] = webhook_latency(stamp)
    if "fleet" in parts:
        figures["fleet"] = fleet_outage(stamp)
    out = os.environ.get("BENCH_OUT")
    if out:
        with open(out, "w") as f:
            json.dump(figures, f, indent=2)


def deploy_figures(stamp):
    runs = int(os.environ.get("BENCH_RUNS", "3"))
    colds, cacheds, empties, raws, apps = [], [], [], [], []
    hits = []
    for run_no in range(runs):
        name = f"bench-{stamp}-{run_no}"
        repo = Repo(name)
        app, cold, d_cold = slipway_deploy(None, name, repo, f"{name} v1")
        _, cached, d_cached = slipway_deploy(app, name, repo, f"{name} v2")
        empty_local_cache(app)
        _, cached_empty, d_empty = slipway_deploy(app, name, repo, f"{name} v3")
        raw_repo = Repo(f"raw-{stamp}-{run_no}")
        raws.append(raw_sequence(raw_repo, f"raw {run_no}", f"slipway-raw-bench:{stamp}-{run_no}"))
        colds.append(cold)
        cacheds.append(cached)
        empties.append(cached_empty)
        apps.append(app)
        hits.append([d_cold["cacheHit"], d_cached["cacheHit"], d_empty["cacheHit"]])
        print(f"  run {run_no + 1}: cold {cold:.2f} s, cached {cached:.2f} s, cached with empty local cache {cached_empty:.2f} s, raw {raws[-1]:.2f} s")
    cold, cached, cached_empty, raw = median(colds), median(cacheds), median(empties), median(raws)
    figures = {
        "runs": runs,
        "slowLayerSeconds": SLOW_SECONDS,
        "coldSeconds": [round(x, 2) for x in colds],
        "cachedSeconds": [round(x, 2) for x in cacheds],
        "cachedEmptyLocalCacheSeconds": [round(x, 2) for x in empties],
        "rawSequenceSeconds": [round(x, 2) for x in raws],
        "median": {
            "cachedOverCold": round(cached / cold, 3),
            "cachedEmptyOverCold": round(cached_empty / cold, 3),
            "slipwayColdOverRaw": round(cold / raw, 3),
        },
        "cacheHits": hits,
        "lastColdPhasesMillis": {k: v.get("millis") for k, v in d_cold["phases"].items()},
        "lastCachedPhasesMillis": {k: v.get("millis") for k, v in d_cached["phases"].items()},
    }
    print()
    print(f"  medians of {runs} runs; slow dependency layer {SLOW_SECONDS} s")
    print(f"  cold build, trigger to running   {cold:7.2f} s   phases {figures['lastColdPhasesMillis']}")
    print(f"  cached redeploy (code change)    {cached:7.2f} s   = {cached / cold:.3f} x cold   (target <= 0.1)   phases {figures['lastCachedPhasesMillis']}")
    print(f"  cached, local image cache empty  {cached_empty:7.2f} s   = {cached_empty / cold:.3f} x cold   (target <= 0.1)")
    print(f"  raw clone+build+run+wait         {raw:7.2f} s   Slipway cold = {cold / raw:.3f} x raw   (target <= 1.1)")
    print()
    for app in apps:
        call("DELETE", f"/apps/{app}")
    return figures


def wrk_latency(url, host=None):
    """p50 and p99 in ms of a bounded wrk run: one connection (one request
    at a time, so the app's cpu limit, not the path, never sets the pace),
    3 s."""
    args = ["wrk", "-t1", "-c1", "-d3s", "--latency", url]
    if host:
        args[1:1] = ["-H", f"Host: {host}"]
    out = subprocess.run(args, check=True, capture_output=True, text=True).stdout
    units = {"us": 0.001, "ms": 1.0, "s": 1000.0}
    found = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0] in ("50%", "99%"):
            value = parts[1]
            unit = next(u for u in ("us", "ms", "s") if value.endswith(u))
            found[parts[0]] = float(value[: -len(unit)]) * units[unit]
        if "Requests/sec" in line:
            found["rps"] = float(parts[1])
    return found


def edge_latency(stamp):
    name = f"edge-{stamp}"
    repo = Repo(name)
    app, _, d = slipway_deploy(None, name, repo, f"{name} page")
    host = hostname(app)
    # Interleaved rounds, medians of each figure: one run's p99 is noise.
    rounds = int(os.environ.get("BENCH_EDGE_ROUNDS", "3"))
    directs, throughs = [], []
    for _ in range(rounds):
        directs.append(wrk_latency(f"http://{d['upstream']}/"))
        throughs.append(wrk_latency(f"http://127.0.0.1:{EDGE}/", host))
    direct = {k: median([r[k] for r in directs]) for k in ("50%", "99%", "rps")}
    through = {k: median([r[k] for r in throughs]) for k in ("50%", "99%", "rps")}
    call("DELETE", f"/apps/{app}")
    added50 = through["50%"] - direct["50%"]
    added99 = through["99%"] - direct["99%"]
    print(f"  medians of {rounds} interleaved wrk runs of 3 s, one request at a time")
    print(f"  straight to the container  p50 {direct['50%']:.3f} ms  p99 {direct['99%']:.3f} ms  ({direct['rps']:.0f} req/s)")
    print(f"  through the edge           p50 {through['50%']:.3f} ms  p99 {through['99%']:.3f} ms  ({through['rps']:.0f} req/s)")
    print(f"  added by the edge          p50 {added50:.3f} ms (target <= 1)  p99 {added99:.3f} ms")
    return {
        "directMillis": {"p50": direct["50%"], "p99": direct["99%"], "rps": direct["rps"]},
        "edgeMillis": {"p50": through["50%"], "p99": through["99%"], "rps": through["rps"]},
        "addedMillis": {"p50": round(added50, 3), "p99": round(added99, 3)},
    }


if __name__ == "__main__":
    main()
