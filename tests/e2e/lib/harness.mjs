// Browser test harness: runs the junction binary, headless Chromium (playwright-core) and
// headless Firefox ESR (puppeteer-core over WebDriver BiDi).
//
// Everything here is bounded: every wait has a timeout, the server is killed by PID when a
// test ends (and when node exits), browsers are closed in finally blocks by the callers (and
// killed by PID if node exits first). No browser is ever downloaded: both come from Debian
// (/usr/bin/chromium, /usr/bin/firefox-esr).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createWriteStream, existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import dgram from 'node:dgram';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';

import { chromium } from 'playwright-core';
import puppeteer from 'puppeteer-core';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
// JUNCTION_BIN, else build/junction, else where Meson puts it (build/src/app/junction).
export const JUNCTION_BIN = process.env.JUNCTION_BIN
  ? path.resolve(ROOT, process.env.JUNCTION_BIN)
  : ['build/junction', 'build/src/app/junction'].map((p) => path.join(ROOT, p)).find(existsSync)
    ?? path.join(ROOT, 'build/junction');
export const CHROMIUM_BIN = process.env.CHROMIUM_BIN ?? '/usr/bin/chromium';
export const FIREFOX_BIN = process.env.FIREFOX_BIN ?? '/usr/bin/firefox-esr';

// Flags from /work/shared/interop/README.md: headless, fake camera + mic granted without a
// prompt, no background traffic, no DNS except 127.0.0.1. Loopback candidates are allowed
// so the tests also work in a namespace with only `lo`.
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--use-fake-ui-for-media-stream',
  '--use-fake-device-for-media-stream=fps=30',
  '--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1',
  '--allow-loopback-in-peer-connection',
  '--autoplay-policy=no-user-gesture-required',
];

// Firefox prefs from /work/shared/interop/README.md: fake camera + mic with a granted
// permission (without a permission Firefox gathers ICE candidates only on the default-route
// address), loopback host candidates as real addresses (no mDNS names), autoplay allowed, and
// everything that would reach the network switched off.
export const FIREFOX_PREFS = {
  'media.navigator.streams.fake': true,
  'media.navigator.permission.disabled': true,
  'permissions.default.camera': 1,
  'permissions.default.microphone': 1,
  'media.peerconnection.ice.loopback': true,
  'media.peerconnection.ice.obfuscate_host_addresses': false,
  'media.autoplay.default': 0,
  'media.autoplay.blocking_policy': 0,
  'app.update.enabled': false,
  'app.update.auto': false,
  'network.captive-portal-service.enabled': false,
  'network.connectivity-service.enabled': false,
  'datareporting.policy.dataSubmissionEnabled': false,
  'datareporting.healthreport.uploadEnabled': false,
  'datareporting.usage.uploadEnabled': false,
  'browser.safebrowsing.malware.enabled': false,
  'browser.safebrowsing.phishing.enabled': false,
  'browser.safebrowsing.downloads.enabled': false,
  'browser.safebrowsing.downloads.remote.enabled': false,
  'browser.safebrowsing.blockedURIs.enabled': false,
  'browser.safebrowsing.provider.google.updateURL': '',
  'browser.safebrowsing.provider.google4.updateURL': '',
  'browser.safebrowsing.provider.mozilla.updateURL': '',
  'toolkit.telemetry.enabled': false,
  'toolkit.telemetry.unified': false,
  'toolkit.telemetry.archive.enabled': false,
  'toolkit.telemetry.server': '',
  'toolkit.telemetry.updatePing.enabled': false,
  'toolkit.telemetry.shutdownPingSender.enabled': false,
  'toolkit.telemetry.firstShutdownPing.enabled': false,
  'toolkit.telemetry.newProfilePing.enabled': false,
  'toolkit.telemetry.bhrPing.enabled': false,
  'extensions.update.enabled': false,
  'extensions.getAddons.cache.enabled': false,
  'extensions.systemAddon.update.enabled': false,
  'extensions.blocklist.enabled': false,
  'browser.region.network.url': '',
  'browser.region.update.enabled': false,
  'browser.search.update': false,
  'browser.newtabpage.enabled': false,
  'browser.startup.homepage_override.mstone': 'ignore',
  'network.dns.disablePrefetch': true,
  'network.prefetch-next': false,
  'network.http.speculative-parallel-limit': 0,
  // Honoured by release builds only with MOZ_DISABLE_NONLOCAL_CONNECTIONS=1 (set at launch).
  'services.settings.server': 'data:,#remote-settings-dummy/v1',
  'messaging-system.rsexperimentloader.enabled': false,
  'app.normandy.enabled': false,
  'app.shield.optoutstudies.enabled': false,
  'browser.ping-centre.telemetry': false,
  'captivedetect.canonicalURL': '',
  'network.trr.mode': 5,
  'media.gmp-manager.url': '',
  'media.gmp-gmpopenh264.autoupdate': false,
  'media.gmp-gmpopenh264.enabled': false,
};

/** Poll `probe` until `predicate(value)` holds; throws after timeoutMs with the last value. */
export async function waitFor(probe, predicate, timeoutMs, { intervalMs = 250, what = 'condition' } = {}) {
  const deadline = Date.now() + timeoutMs;
  let last;
  let lastError;
  for (;;) {
    try {
      last = await probe();
      lastError = undefined;
      if (predicate(last)) return last;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() >= deadline) {
      const detail = lastError ? `last error: ${lastError.message}` : `last value: ${JSON.stringify(last)}`;
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; ${detail}`);
    }
    await sleep(intervalMs);
  }
}

/** A free TCP port on 127.0.0.1 (the kernel picks; the small race is acceptable in tests). */
export function freeTcpPort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

function bindUdp(port) {
  return new Promise((resolve) => {
    const sock = dgram.createSocket('udp4');
    sock.on('error', () => { sock.close(); resolve(null); });
    sock.bind(port, () => resolve(sock));
  });
}

/**
 * The first of `count` consecutive free UDP ports on all addresses: the server's media
 * workers bind media.port + i each (the small race is acceptable in tests).
 */
export async function freeUdpPort(count = 1) {
  for (let attempt = 0; attempt < 50; attempt++) {
    const first = await bindUdp(0);
    if (!first) continue;
    const base = first.address().port;
    const socks = [first];
    while (socks.length < count && base + socks.length <= 65535) {
      const next = await bindUdp(base + socks.length);
      if (!next) break;
      socks.push(next);
    }
    await Promise.all(socks.map((s) => new Promise((resolve) => s.close(resolve))));
    if (socks.length === count) return base;
  }
  throw new Error(`no ${count} consecutive free UDP ports`);
}

// Servers still running: killed synchronously if node exits early (failure, Ctrl-C).
const liveServers = new Set();
process.on('exit', () => {
  for (const child of liveServers) {
    try { process.kill(child.pid, 'SIGKILL'); } catch { /* already gone */ }
  }
});

// Consecutive UDP ports kept free for the server's media workers (--workers defaults to the
// number of CPUs; tests that ask for more workers pass at most this many).
const MEDIA_PORTS = Math.max(4, os.availableParallelism?.() ?? os.cpus().length);

/**
 * Start the junction binary on free ports and wait until GET /api/health answers 200.
 * `env` adds to (or overrides) this process's environment for the server. Returns { baseUrl, httpPort, mediaPort, pid, logFile, logTail(), stop() }.
 */
export async function startServer({ token = null, logLevel = 'debug', extraArgs = [], env = {}, readyTimeoutMs = 10000 } = {}) {
  if (!existsSync(JUNCTION_BIN)) {
    throw new Error(`junction binary not found at ${JUNCTION_BIN} (build it or set JUNCTION_BIN)`);
  }
  const httpPort = await freeTcpPort();
  const mediaPort = await freeUdpPort(MEDIA_PORTS);
  const dir = await mkdtemp(path.join(os.tmpdir(), 'junction-e2e-'));
  const logFile = path.join(dir, 'junction.log');
  const log = createWriteStream(logFile);
  const args = ['--http-port', String(httpPort), '--media-port', String(mediaPort),
    '--log-level', logLevel, ...(token ? ['--token', token] : []), ...extraArgs];
  const child = spawn(JUNCTION_BIN, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  liveServers.add(child);
  child.stdout.pipe(log, { end: false });
  child.stderr.pipe(log, { end: false });
  let exitInfo = null;
  const exited = new Promise((resolve) => {
    child.on('exit', (code, signal) => {
      exitInfo = { code, signal };
      liveServers.delete(child);
      resolve(exitInfo);
    });
    child.on('error', (err) => {
      exitInfo = { code: null, signal: null, error: err };
      liveServers.delete(child);
      resolve(exitInfo);
    });
  });

  const baseUrl = `http://127.0.0.1:${httpPort}`;
  const server = {
    baseUrl, httpPort, mediaPort, pid: child.pid, logFile, dir, args,
    logTail(lines = 40) {
      try {
        return readFileSync(logFile, 'utf8').split('\n').slice(-lines).join('\n');
      } catch {
        return '(no log)';
      }
    },
    /** SIGTERM, then SIGKILL after 5 s. Returns { code, signal, sanitizerReport }; one stop per server. */
    stop() {
      stopping ??= stopOnce();
      return stopping;
    },
  };
  let stopping = null;
  async function stopOnce() {
    if (!exitInfo) {
      try { process.kill(child.pid, 'SIGTERM'); } catch { /* gone */ }
      const timer = setTimeout(() => {
        try { process.kill(child.pid, 'SIGKILL'); } catch { /* gone */ }
      }, 5000);
      await exited;
      clearTimeout(timer);
    }
    await new Promise((resolve) => log.end(resolve));
    // A sanitizer build reports memory errors and leaks on stderr at exit.
    const text = await readFile(logFile, 'utf8').catch(() => '');
    const sanitizer = /(AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer|runtime error:)/.test(text);
    const report = sanitizer ? text.slice(text.search(/==\d+==|runtime error:/)).slice(0, 4000) : '';
    if (!process.env.JUNCTION_KEEP_LOGS && !sanitizer) await rm(dir, { recursive: true, force: true });
    return { ...exitInfo, sanitizerReport: report };
  }

  try {
    // Stops at once when the process exits (the probe then reports 'exited').
    await waitFor(async () => {
      if (exitInfo) return 'exited';
      const res = await fetch(`${baseUrl}/api/health`, { signal: AbortSignal.timeout(1000) });
      await res.arrayBuffer();
      return res.status;
    }, (status) => status === 200 || status === 'exited', readyTimeoutMs,
    { intervalMs: 100, what: 'GET /api/health = 200' });
    if (exitInfo) throw new Error(`junction exited early (${JSON.stringify(exitInfo)})`);
  } catch (err) {
    const tail = server.logTail();
    await server.stop();
    throw new Error(`${err?.message ?? err}\njunction ${args.join(' ')}\n--- server log ---\n${tail}`,
      { cause: err });
  }
  return server;
}

// Firefox instances not closed yet: if node exits early their process groups are killed and
// their profiles removed ('exit' handlers must be synchronous).
const liveFirefoxes = new Map(); // pid -> profile directory
process.on('exit', () => {
  for (const [pid, dir] of liveFirefoxes) {
    killProcessGroup(pid);
    try { rmSync(dir, { recursive: true, force: true }); } catch { /* best effort */ }
  }
});

/** SIGKILL a process group led by pid (puppeteer starts the browser detached), else pid. */
function killProcessGroup(pid) {
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    try { process.kill(pid, 'SIGKILL'); } catch { /* already gone */ }
  }
}

/**
 * PIDs of the running (not zombie) processes in process group pgid, from /proc. A browser's
 * helpers outlive its main process by a moment and then wait as zombies for init to reap
 * them; zombies hold nothing, so they do not count.
 */
export function liveProcessesInGroup(pgid) {
  const live = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let stat;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue; // exited meanwhile
    }
    // "pid (comm) state ppid pgrp ...": comm may contain spaces, so split after ')'.
    const [state, , pgrp] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(pgrp) === pgid && state !== 'Z') live.push(Number(entry));
  }
  return live;
}

/** Settle `promise` within ms; on timeout resolve to undefined (the caller cleans up anyway). */
function bounded(promise, ms) {
  let timer;
  return Promise.race([promise.catch(() => {}), new Promise((resolve) => { timer = setTimeout(resolve, ms); })])
    .finally(() => clearTimeout(timer));
}

/**
 * Launch a headless browser with a fresh profile directory: 'chromium' or 'firefox' (options
 * go to launchChromium or launchFirefox). Returns { kind, context, close() } (Firefox adds pid and profileDir);
 * open pages with context.newPage(). Pages of both browsers offer goto, evaluate,
 * on('pageerror' | 'console') and close, which is all the helpers below use. One browser
 * with several pages keeps CPU use down.
 */
export function launchBrowser(kind = 'chromium', options = {}) {
  if (kind === 'chromium') return launchChromium(options);
  if (kind === 'firefox') return launchFirefox(options);
  throw new Error(`unknown browser ${kind}`);
}

/**
 * Headless Chromium (playwright-core); see launchBrowser. executablePath replaces CHROMIUM_BIN
 * (e.g. a wrapper that runs it in a network namespace); args are added to CHROMIUM_ARGS.
 */
export async function launchChromium({ executablePath = CHROMIUM_BIN, args = [] } = {}) {
  if (!existsSync(executablePath)) throw new Error(`chromium not found at ${executablePath}`);
  const userDataDir = await mkdtemp(path.join(os.tmpdir(), 'junction-chromium-'));
  let context;
  try {
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath,
      headless: true,
      args: [...CHROMIUM_ARGS, ...args],
      timeout: 30000,
    });
  } catch (err) {
    await rm(userDataDir, { recursive: true, force: true });
    throw err;
  }
  return {
    kind: 'chromium',
    context,
    async close() {
      try {
        await context.close();
      } finally {
        await rm(userDataDir, { recursive: true, force: true });
      }
    },
  };
}

/**
 * Headless Firefox ESR (puppeteer-core, WebDriver BiDi); see launchBrowser. close() asks the
 * browser to quit (5 s), waits for its process group to end (3 s), kills what remains by
 * PID, and removes the profile directory. prefs override FIREFOX_PREFS.
 */
export async function launchFirefox({ prefs = {} } = {}) {
  if (!existsSync(FIREFOX_BIN)) throw new Error(`firefox-esr not found at ${FIREFOX_BIN}`);
  const userDataDir = await mkdtemp(path.join(os.tmpdir(), 'junction-firefox-'));
  let browser;
  let pid;
  async function cleanup() {
    if (browser) await bounded(browser.close(), 5000);
    if (pid) {
      const exited = (ms) => waitFor(async () => liveProcessesInGroup(pid), (live) => live.length === 0,
        ms, { intervalMs: 50, what: `firefox (process group ${pid}) to exit` }).then(() => true, () => false);
      // Helpers quit on their own shortly after the main process; kill what lingers.
      if (!(await exited(3000))) {
        killProcessGroup(pid);
        await exited(5000);
      }
      liveFirefoxes.delete(pid);
    }
    await rm(userDataDir, { recursive: true, force: true });
  }
  try {
    browser = await puppeteer.launch({
      browser: 'firefox',
      protocol: 'webDriverBiDi',
      executablePath: FIREFOX_BIN,
      headless: true,
      userDataDir,
      extraPrefsFirefox: { ...FIREFOX_PREFS, ...prefs },
      args: ['--no-remote'],
      timeout: 60000, // a first start with a fresh profile takes 20 s on a loaded machine
      protocolTimeout: 30000,
      // Firefox's test-harness switch: no connections except loopback (WebRTC media is not
      // affected), and services.settings.server above is honoured.
      env: { ...process.env, MOZ_DISABLE_NONLOCAL_CONNECTIONS: '1' },
    });
    pid = browser.process()?.pid;
    if (pid) liveFirefoxes.set(pid, userDataDir);
  } catch (err) {
    await cleanup();
    throw err;
  }
  return {
    kind: 'firefox',
    context: browser,
    pid,
    profileDir: userDataDir,
    close: cleanup,
  };
}

/** Run fn; on failure add the server's log tail to the error. */
export async function withServerLog(server, fn) {
  try {
    return await fn();
  } catch (err) {
    // A new Error: some errors (DOMException from a fetch timeout) have a read-only message.
    const log = `--- server log (${server?.logFile}) ---\n${server?.logTail(60) ?? ''}`;
    throw new Error(`${err?.message ?? err}\n${log}`, { cause: err });
  }
}

/** Assert that server.stop() found a clean exit: code 0, no signal, no sanitizer report. */
export function assertCleanExit(exit) {
  assert.equal(exit.sanitizerReport, '', `sanitizer report:\n${exit.sanitizerReport}`);
  assert.equal(exit.signal, null, `killed by ${exit.signal}`);
  assert.equal(exit.code, 0);
}

/** Page console errors and page crashes are collected for failure messages. */
function watchPage(page) {
  const problems = [];
  page.on('pageerror', (err) => problems.push(`pageerror: ${err.message}`));
  page.on('console', (msg) => { if (msg.type() === 'error') problems.push(`console: ${msg.text()}`); });
  page.problems = problems;
  return page;
}

/** The session's UI state (window.junction[kind]): state, error, resource. */
export function sessionState(page, kind) {
  return page.evaluate((k) => {
    const s = window.junction?.[k];
    return s ? { state: s.state, error: s.error, resource: s.resource } : null;
  }, kind);
}

async function openSession(context, baseUrl, kind, stream, { token = '', waitState = 'live', timeoutMs = 15000 } = {}) {
  const page = watchPage(await context.newPage());
  const q = new URLSearchParams({ [kind]: stream });
  if (token) q.set('token', token);
  // Not 'load': a <video> playing a MediaStream delays the load event until its first
  // frame, which never comes for a viewer whose stream has no publisher yet.
  await page.goto(`${baseUrl}/?${q}`, { timeout: 10000, waitUntil: 'domcontentloaded' });
  if (waitState) {
    await waitFor(() => sessionState(page, kind), (s) => s && (s.state === waitState || s.state === 'failed'),
      timeoutMs, { what: `${kind} ${stream} to be ${waitState}` });
    const s = await sessionState(page, kind);
    if (s.state !== waitState) {
      throw new Error(`${kind} ${stream} failed: ${JSON.stringify(s.error)} ${page.problems.join('; ')}`);
    }
  }
  return page;
}

/** Open the page as a WHIP publisher (?publish=stream) and wait for it to be live. */
export function openPublisher(context, baseUrl, stream, opts) {
  return openSession(context, baseUrl, 'publish', stream, opts);
}

/** Open the page as a WHEP viewer (?watch=stream); by default wait for it to be live. */
export function openViewer(context, baseUrl, stream, opts) {
  return openSession(context, baseUrl, 'watch', stream, opts);
}

/** Stop the page's session through its own Stop path (DELETE + close). */
export async function stopSession(page, kind) {
  await page.evaluate((k) => window.junction[k].stop(), kind);
}

/**
 * Summary of the page's RTCPeerConnection stats for `kind` ('publish' | 'watch'):
 * { connectionState, videoFramesDecoded, videoPacketsReceived, audioPacketsReceived,
 *   packetsLost, videoFramesSent, audioPacketsSent, bytesSent, bytesReceived } or null;
 * inboundVideo / outboundVideo are the browser's own inbound-rtp / outbound-rtp report of the
 * (last) video stream, every field as the browser names it, or null.
 */
export function getStats(page, kind) {
  return page.evaluate(async (k) => {
    const pc = window.junction?.[k]?.pc;
    if (!pc) return null;
    const out = {
      connectionState: pc.connectionState,
      videoFramesDecoded: 0, videoPacketsReceived: 0, audioPacketsReceived: 0, packetsLost: 0,
      videoFramesSent: 0, audioPacketsSent: 0, bytesSent: 0, bytesReceived: 0,
      hasInboundVideo: false, hasInboundAudio: false, inboundVideo: null, outboundVideo: null,
    };
    (await pc.getStats()).forEach((r) => {
      if (r.type === 'inbound-rtp') {
        out.bytesReceived += r.bytesReceived ?? 0;
        out.packetsLost += r.packetsLost ?? 0;
        if (r.kind === 'video') {
          out.hasInboundVideo = true;
          out.videoFramesDecoded += r.framesDecoded ?? 0;
          out.videoPacketsReceived += r.packetsReceived ?? 0;
          out.inboundVideo = r;
        } else if (r.kind === 'audio') {
          out.hasInboundAudio = true;
          out.audioPacketsReceived += r.packetsReceived ?? 0;
        }
      } else if (r.type === 'outbound-rtp') {
        out.bytesSent += r.bytesSent ?? 0;
        if (r.kind === 'video') {
          out.videoFramesSent += r.framesSent ?? 0;
          out.outboundVideo = r;
        } else if (r.kind === 'audio') out.audioPacketsSent += r.packetsSent ?? 0;
      }
    });
    return out;
  }, kind);
}

/** Wait until a viewer page decodes more than minFrames video frames and receives audio. */
export function waitForDecoding(page, { minFrames = 100, timeoutMs = 20000 } = {}) {
  return waitFor(() => getStats(page, 'watch'),
    (s) => s && s.videoFramesDecoded > minFrames && s.audioPacketsReceived > 0, timeoutMs,
    { intervalMs: 500, what: `framesDecoded > ${minFrames} and audio packetsReceived > 0` });
}

/** A fresh SDP offer from the browser (no media needed), gathered completely (2 s cap). */
export function makeOffer(page, { direction = 'sendonly' } = {}) {
  return page.evaluate(async (dir) => {
    const pc = new RTCPeerConnection();
    try {
      pc.addTransceiver('audio', { direction: dir });
      pc.addTransceiver('video', { direction: dir });
      await pc.setLocalDescription(await pc.createOffer());
      await new Promise((resolve) => {
        if (pc.iceGatheringState === 'complete') return resolve();
        const timer = setTimeout(resolve, 2000);
        pc.addEventListener('icegatheringstatechange', () => {
          if (pc.iceGatheringState === 'complete') { clearTimeout(timer); resolve(); }
        });
      });
      return pc.localDescription.sdp;
    } finally {
      pc.close();
    }
  }, direction);
}

/**
 * GET a JSON API path from the server (bounded). A server with API keys wants an admin `token`
 * for /api/stats and /api/rooms (its lab server's adminToken, see netlab.mjs).
 */
export async function apiJson(baseUrl, apiPath, { token } = {}) {
  const headers = token ? { Authorization: `Bearer ${token}` } : {};
  const res = await fetch(`${baseUrl}${apiPath}`, { headers, signal: AbortSignal.timeout(3000) });
  if (!res.ok) throw new Error(`GET ${apiPath}: ${res.status}`);
  return res.json();
}

/** fetch with a bounded time; returns { status, headers, text, json } (json null if not JSON). */
export async function request(url, init = {}) {
  const res = await fetch(url, { ...init, signal: AbortSignal.timeout(5000) });
  const text = await res.text();
  let json = null;
  try { json = JSON.parse(text); } catch { /* not JSON */ }
  return { status: res.status, headers: res.headers, text, json };
}

/** Datagrams no valid peer would send: random bytes and truncated STUN, DTLS, RTP, RTCP. */
export function garbageDatagrams(count = 50) {
  const out = [];
  const rand = (n) => {
    const b = Buffer.alloc(n);
    for (let i = 0; i < n; i++) b[i] = Math.floor(Math.random() * 256);
    return b;
  };
  for (let i = 0; i < count; i++) {
    out.push(rand(1 + Math.floor(Math.random() * 1200)));                   // random bytes
    out.push(Buffer.concat([Buffer.from([i % 2 ? 0x01 : 0x00, 0x01]), rand(i % 10)])); // short STUN
    out.push(Buffer.concat([Buffer.from([22, 0xfe, 0xfd]), rand(i % 8)]));  // truncated DTLS
    out.push(Buffer.concat([Buffer.from([0x80, 0x60]), rand(i % 6)]));      // truncated RTP
    out.push(Buffer.concat([Buffer.from([0x81, 0xc8]), rand(i % 4)]));      // truncated RTCP
  }
  return out;
}

/** Send datagrams to host:port from a fresh UDP socket; resolves once all are sent. */
export function sendDatagrams(port, datagrams, host = '127.0.0.1') {
  return new Promise((resolve, reject) => {
    const sock = dgram.createSocket('udp4');
    let i = 0;
    const next = () => {
      if (i >= datagrams.length) {
        sock.close(() => resolve(datagrams.length));
        return;
      }
      sock.send(datagrams[i++], port, host, (err) => (err ? (sock.close(), reject(err)) : next()));
    };
    sock.on('error', (err) => { sock.close(); reject(err); });
    next();
  });
}
