#!/usr/bin/env python3
"""sfu_bench.py - Junction and Janus side by side under junction-load (run by bench/run.sh).

For each scenario and each server the size is stepped up from the scenario's first step
until subscribers lose 1% or more of their packets (the capacity); a run that fails is tried
once more before it counts, since a busy machine has passing hiccups, and a run whose
publishers fell behind the media's pace does not count (the load generator ran out of CPU).
The first step is also the measurement point, run --repeat times (the median run by CPU
counts): server CPU per forwarded packet, forwarding latency, memory per subscriber; the
largest passing step with at most half the capacity's subscribers gives the latency and CPU
at half load. Every run starts a fresh server on loopback and stops it afterwards (by PID).
Results: one JSON file per run in --out, and a Markdown table on stdout (--from-results
rebuilds the table from those files without running anything).
"""
import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


# junction-load opens every session from this one host: lift Junction's per-server and per-IP
# limits (their defaults answer 429/503 to a load generator; as bench/fanout_cores.py).
LIFTED_LIMITS = [arg for name in ("max-sessions", "max-subscribers-per-track",
                                  "max-sessions-per-ip", "max-half-open", "max-half-open-per-ip",
                                  "http-rate", "http-burst")
                 for arg in (f"--limits-{name}", "100000")]

# Command prefix that sets the servers' and junction-load's scheduling priority (--nice).
NICE = []


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_tcp(port, proc, seconds=20):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("the server exited at start-up")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listens on port {port}")


def default_route_ipv4():
    """The interface of the default route and its IPv4 address: Janus gathers candidates
    on it (it skips loopback interfaces), and the address is local, so traffic to it never
    leaves the host."""
    out = subprocess.run(["ip", "-4", "route", "show", "default"], capture_output=True, text=True).stdout
    words = out.split()
    if "dev" not in words:
        raise RuntimeError("no default route: Janus needs a non-loopback interface to bind")
    dev = words[words.index("dev") + 1]
    out = subprocess.run(["ip", "-4", "-o", "addr", "show", "dev", dev], capture_output=True, text=True).stdout
    for line in out.splitlines():
        parts = line.split()
        if "inet" in parts:
            return dev, parts[parts.index("inet") + 1].split("/")[0]
    raise RuntimeError(f"interface {dev} has no IPv4 address")


class Junction:
    name = "junction"

    def __init__(self, binary, workdir):
        self.binary, self.workdir = binary, workdir

    def start(self):
        self.port = free_port()
        self.log = open(os.path.join(self.workdir, "junction.log"), "ab")
        self.proc = subprocess.Popen(
            [*NICE, self.binary, "--http-port", str(self.port), "--media-listen", "127.0.0.1",
             "--media-port", "0", "--log-level", "warn",
             *LIFTED_LIMITS, "--rooms-max-participants", "10000"],
            stdout=self.log, stderr=subprocess.STDOUT)
        wait_tcp(self.port, self.proc)

    def load_args(self):
        # --server-stats: the workers' own latency histograms over the window (JSON "server").
        return ["--mode", "whip", "--url", f"http://127.0.0.1:{self.port}", "--server-stats"]

    def stop(self):
        stop(self.proc)
        self.log.close()


class Janus:
    name = "janus"

    def __init__(self, workdir):
        self.workdir = workdir
        self.iface, self.ip = default_route_ipv4()
        self.conf = os.path.join(workdir, "janus")
        os.makedirs(self.conf, exist_ok=True)

    def write_config(self):
        lib = "/usr/lib/x86_64-linux-gnu/janus"
        if not os.path.isdir(lib):
            lib = subprocess.run(["sh", "-c", "dirname $(dpkg -L janus | grep libjanus_videoroom.so)"],
                                 capture_output=True, text=True).stdout.strip().rsplit("/", 1)[0]
        plugins = sorted(p for p in os.listdir(os.path.join(lib, "plugins")) if p.endswith(".so"))
        transports = sorted(p for p in os.listdir(os.path.join(lib, "transports")) if p.endswith(".so"))
        with open(os.path.join(self.conf, "janus.jcfg"), "w") as f:
            f.write(f"""general: {{
	configs_folder = "{self.conf}"
	plugins_folder = "{lib}/plugins"
	transports_folder = "{lib}/transports"
	events_folder = "{lib}/events"
	loggers_folder = "{lib}/loggers"
	debug_level = 3
	session_timeout = 60
}}
media: {{
	rtp_port_range = "20000-60000"
}}
nat: {{
	nice_debug = false
	# Janus never gathers on loopback interfaces (ice_enforce_list = "lo" yields none and
	# libnice then falls back to every other interface): bind the default route's
	# interface; its address is local to this host, so the traffic stays on it.
	ice_enforce_list = "{self.iface}"
	ignore_mdns = true
}}
plugins: {{
	disable = "{','.join(p for p in plugins if p != 'libjanus_videoroom.so')}"
}}
transports: {{
	disable = "{','.join(t for t in transports if t != 'libjanus_websockets.so')}"
}}
events: {{
	broadcast = false
}}
loggers: {{
	disable = "libjanus_jsonlog.so"
}}
""")
        with open(os.path.join(self.conf, "janus.transport.websockets.jcfg"), "w") as f:
            f.write(f"""general: {{
	json = "compact"
	ws = true
	ws_port = {self.port}
	ws_ip = "127.0.0.1"
	wss = false
}}
admin: {{
	admin_ws = false
	admin_wss = false
}}
""")
        with open(os.path.join(self.conf, "janus.plugin.videoroom.jcfg"), "w") as f:
            f.write("general: {\n}\n")

    def start(self):
        self.port = free_port()
        self.write_config()
        self.log = open(os.path.join(self.workdir, "janus.log"), "ab")
        self.proc = subprocess.Popen([*NICE, "janus", "-C", os.path.join(self.conf, "janus.jcfg"),
                                      "-F", self.conf], stdout=self.log, stderr=subprocess.STDOUT)
        wait_tcp(self.port, self.proc)

    def load_args(self):
        return ["--mode", "janus", "--url", f"ws://127.0.0.1:{self.port}", "--local-ip", self.ip]

    def stop(self):
        stop(self.proc)
        self.log.close()


def prioritize_session(nice):
    """With autogroups (kernel.sched_autogroup_enabled), the scheduler shares the CPUs
    between sessions first and applies a thread's nice only inside its session: a nice of
    -10 does nothing against another session's compiler. So the bench starts a session of
    its own (the servers and junction-load inherit it) and gives the session that nice."""
    try:
        with open("/proc/sys/kernel/sched_autogroup_enabled") as f:
            if f.read().strip() != "1":
                return
        if os.getsid(0) != os.getpid():
            os.setsid()
        with open("/proc/self/autogroup", "w") as f:
            f.write(str(nice))
    except OSError as e:
        print(f"note: cannot set the session's autogroup nice ({e}); other sessions' load "
              "will weigh on the results", file=sys.stderr)


def stop(proc):
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# Scenario sizes: (rooms, publishers per room, subscribers per publisher) from a step value.
SCENARIOS = {
    "fanout": {
        "title": "1 -> N fan-out",
        "shape": lambda n: (1, 1, n),
        "steps": [100, 200, 300, 400, 600, 800, 1000, 1300, 1600, 2000, 2500, 3000],
    },
    "meeting": {
        "title": "meetings of 10 (N x N)",
        "shape": lambda n: (n, 10, 9),
        "steps": [1, 2, 3, 4, 6, 8, 10, 13, 16, 20, 25, 30],
    },
    "rooms": {
        "title": "small rooms of 4",
        "shape": lambda n: (n, 4, 3),
        "steps": [10, 20, 30, 40, 60, 80, 100, 130, 160, 200, 250],
    },
}


def run_load(args, server, scenario, step, label):
    rooms, pubs, subs = SCENARIOS[scenario]["shape"](step)
    load_before = os.getloadavg()[0]
    server.start()
    try:
        cmd = [*NICE, args.load, *server.load_args(), "--video", args.video, "--audio", args.audio,
               "--rooms", str(rooms), "--publishers", str(pubs), "--subscribers", str(subs),
               "--warmup", str(args.warmup), "--duration", str(args.window),
               "--connect-timeout", "90", "--verify-every", str(args.verify_every),
               "--server-pid", str(server.proc.pid), "--label", label]
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
        sys.stderr.write(res.stderr)
        try:
            data = json.loads(res.stdout)
        except json.JSONDecodeError:
            data = {"error": "junction-load printed no JSON", "stderr": res.stderr[-2000:]}
    finally:
        server.stop()
    data["command"] = " ".join(cmd)
    # Other jobs on the host skew latency most: keep the 1-minute load average with the run.
    data["load_average"] = {"start": load_before, "end": os.getloadavg()[0]}
    with open(os.path.join(args.out, f"{label}.json"), "w") as f:
        json.dump(data, f, indent=2)
    return data


MIN_PACE = 0.97  # of the media's frames per second, per publisher


def healthy(d):
    s = d.get("sessions", {})
    ok = (s.get("publishers_connected") == s.get("publishers") and
          s.get("subscribers_connected") == s.get("subscribers"))
    loss = d.get("loss", {})
    # Publishers behind the media's pace mean the load generator, not the server, is what ran
    # out of CPU: whatever reached the subscribers, the run does not count as carried.
    paced = d.get("sent", {}).get("pace", 1) >= MIN_PACE
    return (ok and paced and loss.get("ratio", 1) < 0.01 and
            loss.get("delivery_ratio", 0) > 0.99)


def bench(args, server, scenario):
    sc = SCENARIOS[scenario]
    measure, capacity, healthy_runs = None, 0, []
    steps = [int(s) for s in args.steps.split(",")] if args.steps else sc["steps"]
    for step in steps[: args.max_steps]:
        print(f"== {server.name}: {sc['title']}, step {step}", file=sys.stderr)
        d = run_load(args, server, scenario, step, f"{server.name}-{scenario}-step{step}")
        if not healthy(d):
            print(f"== {server.name}: {sc['title']}, step {step} again", file=sys.stderr)
            d = run_load(args, server, scenario, step, f"{server.name}-{scenario}-step{step}-again")
        if measure is None:
            repeats = [d] + [run_load(args, server, scenario, step,
                                      f"{server.name}-{scenario}-step{step}-r{r}")
                             for r in range(2, args.repeat + 1)]
            measure = median_run(repeats)
        if not healthy(d):
            break
        capacity = d["sessions"]["subscribers"]
        healthy_runs.append(d)
    return result(measure, capacity, healthy_runs)


def median_run(runs):
    """The run of the median CPU per forwarded packet: the measured step runs --repeat times,
    since on a shared VM one run's CPU figure can be off by a third."""
    def cpu(d):
        return d.get("server", {}).get("cpu_us_per_forwarded_packet") or 0
    return sorted(runs, key=cpu)[(len(runs) - 1) // 2]


def result(measure, capacity, healthy_runs):
    """A scenario's figures for one server; half_load is the largest healthy run with at most
    half the capacity's subscribers (the issue's latency target is at half load)."""
    half = [d for d in healthy_runs if d["sessions"]["subscribers"] * 2 <= capacity]
    return {"measure": measure, "capacity_subscribers": capacity,
            "half_load": half[-1] if half else None}


def from_results(args, servers, scenarios):
    """The results of an earlier run, from its per-run JSON files."""
    def load(name):
        path = os.path.join(args.out, name + ".json")
        return json.load(open(path)) if os.path.exists(path) else None

    results = {}
    for scenario in scenarios:
        results[scenario] = {}
        for server in servers:
            measure, capacity, healthy_runs = None, 0, []
            for step in SCENARIOS[scenario]["steps"]:
                d = load(f"{server}-{scenario}-step{step}")
                if d and not healthy(d):
                    d = load(f"{server}-{scenario}-step{step}-again") or d
                if d is None:
                    break
                if measure is None:
                    repeats = [d] + [r for r in (load(f"{server}-{scenario}-step{step}-r{k}")
                                                 for k in range(2, args.repeat + 1)) if r]
                    measure = median_run(repeats)
                if not healthy(d):
                    break
                capacity = d["sessions"]["subscribers"]
                healthy_runs.append(d)
            if measure:
                results[scenario][server] = result(measure, capacity, healthy_runs)
    return results


def fmt(v, digits=1):
    return "-" if v is None else f"{v:.{digits}f}"


def ratio(a, b):
    return None if not a or not b else a / b


def table(results):
    rows = ["| scenario | metric | junction | janus | junction / janus |", "|---|---|---:|---:|---:|"]
    for scenario, per in results.items():
        j, n = per.get("junction"), per.get("janus")

        def run_metric(m, key):
            """key's figure of one run's JSON."""
            if key == "cpu":
                return m.get("server", {}).get("cpu_us_per_forwarded_packet")
            if key in ("p50", "p99"):
                return m.get("packet_latency_us", {}).get(key, 0) / 1000
            if key in ("f50", "f99"):
                return m.get("latency_us", {}).get("video", {}).get("p" + key[1:], 0) / 1000
            if key == "rss":
                return m.get("server", {}).get("rss_kb_per_subscriber")
            if key == "subs":
                return m["sessions"]["subscribers"]
            return None

        def metric(r, key):
            """key's figure for one server; "cap" its capacity, "half:" keys its half-load run."""
            if r is None:
                return None
            if key == "cap":
                return r["capacity_subscribers"] or None
            if key.startswith("half:"):
                h = r.get("half_load")
                return run_metric(h, key[5:]) if h else None
            return run_metric(r["measure"], key)

        for key, name, digits in (("cpu", "server CPU per forwarded packet (us)", 2),
                                  ("cap", "largest subscriber count with loss < 1%", 0),
                                  ("p50", "added forwarding latency p50 (ms, per packet)", 2),
                                  ("p99", "added forwarding latency p99 (ms, per packet)", 2),
                                  ("f50", "video frame latency p50 (ms)", 2),
                                  ("f99", "video frame latency p99 (ms)", 2),
                                  ("half:subs", "half load: largest run with <= capacity / 2", 0),
                                  ("half:p50", "half load: added forwarding latency p50 (ms)", 2),
                                  ("half:p99", "half load: added forwarding latency p99 (ms)", 2),
                                  ("half:cpu", "half load: server CPU per forwarded packet (us)", 2),
                                  ("rss", "server memory per subscriber (KiB)", 0)):
            a, b = metric(j, key), metric(n, key)
            rows.append(f"| {SCENARIOS[scenario]['title']} | {name} | {fmt(a, digits)} | "
                        f"{fmt(b, digits)} | {fmt(ratio(a, b), 2)} |")
    loads = [d["load_average"][k] for per in results.values() for r in per.values()
             for d in (r["measure"], r.get("half_load")) if d and "load_average" in d
             for k in ("start", "end")]
    if loads:
        rows.append(f"\nLoad average (1 min) at the measured runs: {min(loads):.1f} - "
                    f"{max(loads):.1f} on {os.cpu_count()} CPUs.")
    return "\n".join(rows)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--junction", default=os.path.join(ROOT, "build-bench/junction"))
    p.add_argument("--load", default=os.path.join(ROOT, "build-bench/junction-load"))
    p.add_argument("--video")
    p.add_argument("--audio")
    p.add_argument("--out", default=os.path.join(ROOT, "build-bench/results"))
    p.add_argument("--servers", default="junction,janus")
    p.add_argument("--scenarios", default="fanout,meeting,rooms")
    p.add_argument("--warmup", type=float, default=3)
    p.add_argument("--window", type=float, default=10)
    p.add_argument("--max-steps", type=int, default=99)
    p.add_argument("--repeat", type=int, default=3,
                   help="runs of the first (measured) step; its figures are the median run's")
    p.add_argument("--steps", help="comma-separated sizes instead of the scenario's (fanout: "
                                   "subscribers, meeting and rooms: rooms), e.g. 1000 or 100,1000")
    p.add_argument("--verify-every", type=int, default=8)
    p.add_argument("--from-results", action="store_true",
                   help="print the table of the per-run JSON files already in --out")
    p.add_argument("--nice", type=int, default=None,
                   help="run both servers and junction-load at this niceness (e.g. -10 on a "
                        "machine busy with other work; the same for Junction and Janus)")
    args = p.parse_args()
    if not args.from_results and not (args.video and args.audio):
        p.error("--video and --audio are needed to run")
    if args.nice is not None:
        NICE.extend(["nice", "-n", str(args.nice)])
        prioritize_session(args.nice)
    os.makedirs(args.out, exist_ok=True)
    if args.from_results:
        print(table(from_results(args, args.servers.split(","), args.scenarios.split(","))))
        return
    work = tempfile.mkdtemp(prefix="sfu-bench-")
    servers = []
    for name in args.servers.split(","):
        servers.append(Junction(args.junction, work) if name == "junction" else Janus(work))
    results = {}
    for scenario in args.scenarios.split(","):
        results[scenario] = {}
        for server in servers:
            results[scenario][server.name] = bench(args, server, scenario)
    with open(os.path.join(args.out, "summary.json"), "w") as f:
        json.dump(results, f, indent=2)
    print(table(results))
    print(f"\n(logs in {work}; per-run JSON in {args.out})", file=sys.stderr)


if __name__ == "__main__":
    main()
