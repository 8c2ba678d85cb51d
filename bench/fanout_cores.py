#!/usr/bin/env python3
"""fanout_cores.py - does a 1 -> N WHEP fan-out use every core? CPU per media worker thread.

For each worker count it starts build/junction (--workers W, --workers-spread-threshold T),
drives 1 publisher (VP8 ~1 Mbit/s + Opus, encoded here with ffmpeg) and N WHEP subscribers
with junction-load, and once every subscriber receives it samples for a window:
  - each worker thread's CPU time (/proc/PID/task/TID/stat, threads named j-worker-<i>),
  - each worker's forwarded packets (sum of rtp_out of its sessions in GET /api/stats),
and prints per worker: subscribers, forwarded packets/s, CPU % of one core, CPU us/packet;
per run: loss and junction-load's added forwarding latency per packet (p50 / p99), and the
1-minute load average at the start and end of the window.

  bench/fanout_cores.py [--junction build/junction] [--load build/junction-load]
                        [--subscribers 150] [--workers 1,2] [--threshold 0] [--window 10]
                        [--verify-every 16]

junction-load is src/load (build/junction-load). Results and the exact command:
bench/fanout_cores.md.
"""
import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

CLK_TCK = os.sysconf('SC_CLK_TCK')
# junction-load opens every session from this one host: lift the per-server and per-IP limits.
LIFTED_LIMITS = [arg for name in ('max-sessions', 'max-sessions-per-ip', 'max-half-open',
                                  'max-half-open-per-ip', 'http-rate', 'http-burst')
                 for arg in (f'--limits-{name}', '100000')]


def free_tcp_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def api(port, path):
    with urllib.request.urlopen(f'http://127.0.0.1:{port}{path}', timeout=3) as r:
        return json.load(r)


def worker_cpu_ticks(pid):
    """{worker index: utime + stime in clock ticks} of the j-worker-<i> threads."""
    out = {}
    for tid in os.listdir(f'/proc/{pid}/task'):
        try:
            with open(f'/proc/{pid}/task/{tid}/stat') as f:
                stat = f.read()
        except OSError:
            continue
        comm = stat[stat.index('(') + 1:stat.rindex(')')]
        if comm.startswith('j-worker-'):
            fields = stat[stat.rindex(')') + 2:].split()
            out[int(comm[len('j-worker-'):])] = int(fields[11]) + int(fields[12])
    return out


def forwarded(stats):
    """{worker index: [subscribers, rtp packets sent]} from /api/stats."""
    out = {w['worker']: [w['subscribers'], 0] for w in stats['workers']}
    for s in stats['session_list']:
        out[s['worker']][1] += s['counters']['rtp_out']
    return out


def encode_media(work):
    video, audio = os.path.join(work, 'v.ivf'), os.path.join(work, 'a.ogg')
    subprocess.run(['ffmpeg', '-loglevel', 'error', '-f', 'lavfi', '-i',
                    'testsrc2=size=640x360:rate=30', '-t', '10', '-c:v', 'libvpx', '-b:v', '1M',
                    '-g', '60', '-deadline', 'realtime', '-cpu-used', '8', video], check=True)
    subprocess.run(['ffmpeg', '-loglevel', 'error', '-f', 'lavfi', '-i',
                    'anoisesrc=color=pink:amplitude=0.1:sample_rate=48000', '-t', '10', '-ac', '2',
                    '-c:a', 'libopus', '-b:a', '32k', audio], check=True)
    return video, audio


def run(args, workers, video, audio, work):
    port = free_tcp_port()
    log = open(os.path.join(work, f'server-{workers}.log'), 'w')
    server = subprocess.Popen([args.junction, '--http-port', str(port), '--media-port', '0',
                               '--workers', str(workers), '--workers-spread-threshold',
                               str(args.threshold), '--log-level', 'warn',
                               *LIFTED_LIMITS],
                              stdout=log, stderr=subprocess.STDOUT)
    load = None
    try:
        for _ in range(100):
            try:
                api(port, '/api/health')
                break
            except OSError:
                time.sleep(0.1)
        duration = args.window + 30  # the window is taken in the middle of the load's run
        load = subprocess.Popen([args.load, '--mode', 'whip', '--url', f'http://127.0.0.1:{port}',
                                 '--video', video, '--audio', audio, '--subscribers',
                                 str(args.subscribers), '--warmup', '3', '--duration',
                                 str(duration), '--connect-timeout', '60', '--verify-every',
                                 str(args.verify_every), '--server-pid',
                                 str(server.pid), '--label', f'fanout-{workers}w'],
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        deadline = time.time() + 120
        while True:  # every subscriber connected and receiving
            stats = api(port, '/api/stats')
            live = [s for s in stats['session_list'] if s['role'] == 'subscriber'
                    and s['state'] == 'connected' and s['counters']['rtp_out'] > 0]
            if len(live) == args.subscribers:
                break
            if time.time() > deadline or load.poll() is not None:
                raise RuntimeError(f'only {len(live)} of {args.subscribers} subscribers receive')
            time.sleep(0.5)
        time.sleep(5)  # past the load's warm-up
        load0 = os.getloadavg()[0]
        cpu0, fw0, t0 = worker_cpu_ticks(server.pid), forwarded(api(port, '/api/stats')), time.time()
        time.sleep(args.window)
        cpu1, fw1, t1 = worker_cpu_ticks(server.pid), forwarded(api(port, '/api/stats')), time.time()
        load1 = os.getloadavg()[0]
        summary = json.loads(load.communicate(timeout=duration + 120)[0] or '{}')
        summary['load_average'] = [load0, load1]
        rows = []
        for w in sorted(cpu1):
            seconds = (cpu1[w] - cpu0[w]) / CLK_TCK
            packets = fw1[w][1] - fw0[w][1]
            rows.append({'worker': w, 'subscribers': fw1[w][0],
                         'packets_per_s': packets / (t1 - t0),
                         'cpu_percent': 100 * seconds / (t1 - t0),
                         'cpu_us_per_packet': 1e6 * seconds / packets if packets else None})
        return rows, summary
    finally:
        if load and load.poll() is None:
            load.kill()
            load.wait()
        server.terminate()
        server.wait(timeout=10)
        log.close()


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--junction', default='build/junction')
    p.add_argument('--load', default='build/junction-load')
    p.add_argument('--subscribers', type=int, default=150)
    p.add_argument('--workers', default='1,2', help='worker counts to compare')
    p.add_argument('--threshold', type=int, default=0, help='--workers-spread-threshold')
    p.add_argument('--window', type=int, default=10, help='seconds measured')
    p.add_argument('--verify-every', type=int, default=16,
                   help="junction-load decrypts 1 packet in N (keeps the client's CPU low)")
    args = p.parse_args()
    for tool in (args.junction, args.load):
        if not os.access(tool, os.X_OK):
            sys.exit(f'{tool}: not an executable (build it first)')
    if not shutil.which('ffmpeg'):
        sys.exit('ffmpeg is missing (scripts/install-deps.sh --test)')
    with tempfile.TemporaryDirectory() as work:
        video, audio = encode_media(work)
        print(f'1 publisher -> {args.subscribers} WHEP subscribers, spread threshold '
              f'{args.threshold}, {args.window} s window, {os.cpu_count()} CPUs')
        print('workers  worker  subscribers  forwarded pkt/s  CPU % of a core  CPU us/packet  '
              'loss %  latency p50/p99 ms  load avg')
        for workers in (int(w) for w in args.workers.split(',')):
            rows, summary = run(args, workers, video, audio, work)
            ratio = summary.get('loss', {}).get('ratio')
            loss = f'{100 * ratio:.2f}' if ratio is not None else '-'
            lat = summary.get('packet_latency_us', {})
            latency = f"{lat.get('p50', 0) / 1000:.2f} / {lat.get('p99', 0) / 1000:.2f}"
            load_avg = '{:.1f}-{:.1f}'.format(*summary['load_average'])
            for r in rows:
                us = f"{r['cpu_us_per_packet']:.2f}" if r['cpu_us_per_packet'] else '-'
                print(f"{workers:7}  {r['worker']:6}  {r['subscribers']:11}  "
                      f"{r['packets_per_s']:15.0f}  {r['cpu_percent']:15.1f}  {us:>13}  "
                      f"{loss:>6}  {latency:>18}  {load_avg:>8}")
            print(json.dumps({'workers': workers, 'per_worker': rows, 'load': summary}),
                  file=sys.stderr)


if __name__ == '__main__':
    main()
