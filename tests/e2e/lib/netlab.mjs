// Network lab for browser tests over impaired networks: each browser runs in its own network
// namespace, joined to the root namespace (where Junction runs) by a veth pair on a private
// /30, and either direction of each link can lose packets at random, be throttled to a
// bottleneck rate, or be delayed.
//
// Needs root and iproute2 (`ip`, `tc`); netlabUnavailable() says why not, for a test skip.
// Everything the lab creates is named after this process: namespaces `jlab<pid>-<name>`
// (with a veth `veth0` inside), root-side veths `jl<pid>r<n>` and a temporary directory
// `junction-netlab-<pid>-*` (browser wrapper scripts). destroy() removes them, the
// process exit hooks do if a test dies first, and the next lab removes what a crashed run
// (a dead pid) left behind. Every command has a time limit.
//
// How the impairments are made (Lab link .impair()):
// - random loss: a classic-BPF filter on the sending device's clsact egress hook drops each
//   IPv4 packet with the given probability (the kernel's per-packet random number), which is
//   netem's `loss X%` (independent losses) and also works on kernels built without sch_netem;
// - bottleneck rate: a tbf root qdisc whose queue holds queueMs of traffic (drops beyond);
// - delay: a netem root qdisc (with the tbf as its child when a rate is set too); only on
//   kernels with sch_netem (lab.netem).
import { execFile, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, rmSync } from 'node:fs';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

import { CHROMIUM_ARGS, CHROMIUM_BIN, JUNCTION_BIN, launchChromium, startServer } from './harness.mjs';

const execFileAsync = promisify(execFile);
const COMMAND_TIMEOUT_MS = 10000;
const NS_PREFIX = 'jlab';
const DEV_PREFIX = 'jl';
const NS_DEV = 'veth0';
const DIR_PREFIX = 'junction-netlab-';
const SUBNET = '10.77'; // link N is 10.77.N.0/30: .1 on the root side, .2 in the namespace

/** Why the lab cannot run here (a skip message), or null when it can. */
export function netlabUnavailable() {
  if (process.getuid?.() !== 0) return 'needs root to create network namespaces (CI runs as root)';
  for (const tool of ['ip', 'tc']) {
    try {
      execFileSync(tool, ['-V'], { stdio: 'ignore', timeout: COMMAND_TIMEOUT_MS });
    } catch {
      return `needs \`${tool}\` from iproute2 (scripts/install-deps.sh --test installs it)`;
    }
  }
  return null;
}

async function run(cmd, args) {
  try {
    const { stdout } = await execFileAsync(cmd, args, { timeout: COMMAND_TIMEOUT_MS });
    return stdout;
  } catch (err) {
    throw new Error(`${cmd} ${args.join(' ')}: ${err.stderr?.trim() || err.message}`, { cause: err });
  }
}

const ip = (...args) => run('ip', args);

function pidAlive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return err.code === 'EPERM';
  }
}

// Namespaces of labs not destroyed yet: removed synchronously if node exits first ('exit'
// handlers cannot wait); a signal exits through process.exit so that they run.
const liveLabs = new Set();
process.on('exit', () => {
  for (const lab of liveLabs) lab.destroySync();
});
for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143], ['SIGHUP', 129]]) {
  process.once(signal, () => process.exit(code));
}

/** Remove what labs of processes no longer running left: namespaces, veths, directories. */
async function removeLeftovers() {
  const nsPattern = new RegExp(`^(${NS_PREFIX}(\\d+)-\\S+)`);
  for (const line of (await ip('netns', 'list')).split('\n')) {
    const m = nsPattern.exec(line);
    if (m && !pidAlive(Number(m[2]))) await ip('netns', 'del', m[1]);
  }
  // Deleting a namespace deletes its veth pair; a root-side veth outlives it only while a
  // process of the dead run still holds the namespace.
  const devPattern = new RegExp(`^\\d+: (${DEV_PREFIX}(\\d+)r\\d+)[@:]`);
  for (const line of (await ip('-o', 'link', 'show')).split('\n')) {
    const m = devPattern.exec(line);
    if (m && !pidAlive(Number(m[2]))) await ip('link', 'del', m[1]);
  }
  const dirPattern = new RegExp(`^${DIR_PREFIX}(\\d+)-`);
  for (const entry of await readdir(os.tmpdir())) {
    const m = dirPattern.exec(entry);
    if (m && !pidAlive(Number(m[1]))) await rm(path.join(os.tmpdir(), entry), { recursive: true, force: true });
  }
}

/**
 * The classic BPF program (tc's `bytecode` syntax: count, then "code jt jf k" per
 * instruction) that drops a packet with probability `fraction` and lets the others through.
 */
function lossBytecode(fraction) {
  const threshold = Math.min(Math.round(fraction * 2 ** 32), 2 ** 32 - 1);
  const program = [
    [0x20, 0, 0, 0xfffff038], // ld [SKF_AD_OFF + SKF_AD_RANDOM]: A = a random u32
    [0x35, 0, 1, threshold],  // jge #threshold: A >= threshold keeps the packet, else drop
    [0x06, 0, 0, 0xffffffff], // ret #-1 (TC_ACT_UNSPEC): carry on as if no filter matched
    [0x06, 0, 0, 2],          // ret #2 (TC_ACT_SHOT): drop
  ];
  return `${program.length},${program.map((insn) => insn.join(' ')).join(',')}`;
}

/** One end of a link as tc sees it: the device and the namespace it is in (null = root). */
class LinkEnd {
  constructor(dev, ns) {
    this.dev = dev;
    this.ns = ns;
  }

  tc(...args) {
    return run('tc', this.ns ? ['-n', this.ns, ...args] : args);
  }

  async qdiscs() {
    return JSON.parse(await this.tc('-s', '-j', 'qdisc', 'show', 'dev', this.dev));
  }

  /** Packets the impairments on this end dropped so far (loss filter and rate queue). */
  async dropped() {
    return (await this.qdiscs()).reduce((sum, q) => sum + (q.drops ?? 0), 0);
  }

  async clear() {
    for (const q of await this.qdiscs()) {
      if (q.kind === 'clsact') await this.tc('qdisc', 'del', 'dev', this.dev, 'clsact');
      else if (q.root && q.kind !== 'noqueue') await this.tc('qdisc', 'del', 'dev', this.dev, 'root');
    }
  }

  async apply({ lossPercent = 0, rateKbit = 0, queueMs = 100, delayMs = 0 }) {
    if (!(lossPercent >= 0 && lossPercent <= 100)) throw new Error(`lossPercent ${lossPercent} not in 0..100`);
    if (!(rateKbit >= 0 && queueMs > 0 && delayMs >= 0)) throw new Error('rateKbit and delayMs must be >= 0, queueMs > 0');
    if (lossPercent > 0) {
      await this.tc('qdisc', 'add', 'dev', this.dev, 'clsact');
      await this.tc('filter', 'add', 'dev', this.dev, 'egress', 'protocol', 'ip', 'pref', '1', 'bpf',
        'bytecode', lossBytecode(lossPercent / 100), 'direct-action');
    }
    // Large enough for two full-size frames, or 10 ms at the rate: tbf passes no packet
    // larger than its bucket.
    const burstBytes = Math.max(2 * 1514, Math.ceil((rateKbit * 1000) / 8 / 100));
    const tbf = ['tbf', 'rate', `${rateKbit}kbit`, 'burst', String(burstBytes), 'latency', `${queueMs}ms`];
    if (delayMs > 0) {
      await this.tc('qdisc', 'add', 'dev', this.dev, 'root', 'handle', '1:', 'netem', 'delay', `${delayMs}ms`)
        .catch((err) => { throw new Error(`delay needs sch_netem (lab.netem is false here): ${err.message}`); });
      if (rateKbit > 0) await this.tc('qdisc', 'add', 'dev', this.dev, 'parent', '1:1', 'handle', '10:', ...tbf);
    } else if (rateKbit > 0) {
      await this.tc('qdisc', 'add', 'dev', this.dev, 'root', 'handle', '1:', ...tbf);
    }
  }
}

/**
 * A namespace and its veth pair. rootAddr / nsAddr are the two ends' IPv4 addresses; the
 * namespace has no default route, so from inside it only rootAddr (and its own lo) answers.
 */
class Link {
  constructor(name, ns, rootDev, subnet) {
    this.name = name;
    this.ns = ns;
    this.rootAddr = `${SUBNET}.${subnet}.1`;
    this.nsAddr = `${SUBNET}.${subnet}.2`;
    // 'down' is what the namespace receives (the root end sends it), 'up' what it sends.
    this.ends = { down: new LinkEnd(rootDev, null), up: new LinkEnd(NS_DEV, ns) };
  }

  /**
   * Impair one direction, 'down' (towards the namespace) or 'up' (from it), replacing what
   * was set on it before: { lossPercent, rateKbit, queueMs = 100, delayMs }. null clears it.
   */
  async impair(direction, spec) {
    const end = this.ends[direction];
    if (!end) throw new Error(`direction must be 'down' or 'up', not ${direction}`);
    await end.clear();
    if (spec) await end.apply(spec);
  }

  /** Clear both directions. */
  async clear() {
    await this.impair('down', null);
    await this.impair('up', null);
  }

  /** Packets dropped by the impairments so far: { down, up }. */
  async dropped() {
    return { down: await this.ends.down.dropped(), up: await this.ends.up.dropped() };
  }
}

/** Whether this kernel has sch_netem: tried on a fresh (unimpaired) link end. */
async function probeNetem(end) {
  try {
    await end.tc('qdisc', 'add', 'dev', end.dev, 'root', 'netem');
  } catch {
    return false;
  }
  await end.clear();
  return true;
}

/** Create a lab: removes leftovers of crashed runs, then links are added with addLink(). */
export async function createLab() {
  const lab = new Lab(await mkdtemp(path.join(os.tmpdir(), `${DIR_PREFIX}${process.pid}-`)));
  liveLabs.add(lab);
  try {
    await removeLeftovers();
  } catch (err) {
    await lab.destroy();
    throw err;
  }
  return lab;
}

class Lab {
  constructor(dir) {
    this.dir = dir; // browser wrapper scripts
    this.links = [];
    this.namespaces = []; // created, to be deleted; registered before anything is put in them
    this.netem = undefined; // whether the kernel has sch_netem (delay), known after addLink()
  }

  /** A new namespace `name` (lower-case letters and digits) linked to the root namespace. */
  async addLink(name) {
    if (!/^[a-z0-9]{1,16}$/.test(name)) throw new Error(`link name ${name}: 1-16 of [a-z0-9]`);
    // The lowest N whose /30 no interface uses (another lab's included).
    const used = new Set();
    for (const [, net] of (await ip('-o', '-4', 'addr', 'show')).matchAll(/inet (\d+\.\d+\.\d+)\./g)) {
      if (net.startsWith(`${SUBNET}.`)) used.add(Number(net.split('.')[2]));
    }
    let subnet = 1;
    while (used.has(subnet)) subnet++;
    if (subnet > 254) throw new Error(`no free ${SUBNET}.N.0/30 left`);
    const ns = `${NS_PREFIX}${process.pid}-${name}`;
    const rootDev = `${DEV_PREFIX}${process.pid}r${this.links.length}`;
    const link = new Link(name, ns, rootDev, subnet);
    await ip('netns', 'add', ns);
    this.namespaces.push(ns);
    await ip('link', 'add', rootDev, 'type', 'veth', 'peer', 'name', NS_DEV, 'netns', ns);
    await ip('addr', 'add', `${link.rootAddr}/30`, 'dev', rootDev);
    await ip('link', 'set', rootDev, 'up');
    await ip('-n', ns, 'addr', 'add', `${link.nsAddr}/30`, 'dev', NS_DEV);
    await ip('-n', ns, 'link', 'set', NS_DEV, 'up');
    await ip('-n', ns, 'link', 'set', 'lo', 'up');
    if (this.netem === undefined) this.netem = await probeNetem(link.ends.down);
    this.links.push(link);
    return link;
  }

  /**
   * Headless Chromium (harness launchChromium) running inside link's namespace, through a
   * generated wrapper script; its WebRTC traffic crosses the link. secureOrigins: http://
   * origins Chromium treats as secure (the page needs a secure context for the camera).
   */
  async launchChromium(link, { secureOrigins = [] } = {}) {
    if (!existsSync(CHROMIUM_BIN)) throw new Error(`chromium not found at ${CHROMIUM_BIN}`);
    const wrapper = path.join(this.dir, `chromium-${link.name}`);
    // `ip netns exec` execs Chromium in place: Playwright's PID for the browser stays right.
    await writeFile(wrapper, `#!/bin/sh\nexec ip netns exec '${link.ns}' '${CHROMIUM_BIN}' "$@"\n`, { mode: 0o755 });
    // The harness maps every host name but 127.0.0.1 to nothing, IP literals included:
    // let the link's server address through too (the later flag wins).
    const resolverRules = CHROMIUM_ARGS.find((a) => a.startsWith('--host-resolver-rules='));
    const args = [`${resolverRules} , EXCLUDE ${link.rootAddr}`];
    if (secureOrigins.length) args.push(`--unsafely-treat-insecure-origin-as-secure=${secureOrigins.join(',')}`);
    return launchChromium({ executablePath: wrapper, args });
  }

  /** Delete every namespace (with its veth pair and impairments) and the scripts. */
  async destroy() {
    const errors = [];
    for (const ns of this.namespaces.splice(0)) {
      await ip('netns', 'del', ns).catch((err) => errors.push(err.message));
    }
    await rm(this.dir, { recursive: true, force: true });
    liveLabs.delete(this);
    if (errors.length) throw new Error(`lab cleanup: ${errors.join('; ')}`);
  }

  destroySync() {
    for (const ns of this.namespaces.splice(0)) {
      try {
        execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore', timeout: COMMAND_TIMEOUT_MS });
      } catch { /* best effort while exiting */ }
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * Start Junction for the lab: HTTP and media on every address (the links' root ends among
 * them), ICE candidates on the root ends of the lab's links, and a fresh API key pair, which
 * also lets the server accept a non-loopback HTTP listen. Add links before calling this.
 * Returns the harness server plus urlFor(link) (the HTTP origin as seen from link's
 * namespace), token({ room, identity, publish, subscribe, admin }) minted by `junction token`
 * and adminToken, a server-wide admin token for /api/stats.
 */
export async function startLabServer(lab, options = {}) {
  const env = {
    JUNCTION_AUTH_API_KEY: 'netlab',
    JUNCTION_AUTH_API_SECRET: randomBytes(32).toString('hex'),
  };
  const server = await startServer({
    ...options,
    env,
    extraArgs: ['--http-listen', '0.0.0.0', '--media-listen', '0.0.0.0',
      '--media-public-ips', lab.links.map((l) => l.rootAddr).join(','), ...(options.extraArgs ?? [])],
  });
  server.urlFor = (link) => `http://${link.rootAddr}:${server.httpPort}`;
  server.token = async ({ room, identity, publish = false, subscribe = false, admin = false }) => {
    const args = ['token', '--room', room, '--identity', identity, '--ttl', '600',
      ...(publish ? ['--publish'] : []), ...(subscribe ? ['--subscribe'] : []), ...(admin ? ['--admin'] : [])];
    const { stdout } = await execFileAsync(JUNCTION_BIN, args,
      { env: { ...process.env, ...env }, timeout: COMMAND_TIMEOUT_MS });
    return stdout.trim();
  };
  try {
    server.adminToken = await server.token({ room: '*', identity: 'e2e-admin', admin: true });
  } catch (err) {
    await server.stop();
    throw err;
  }
  return server;
}
