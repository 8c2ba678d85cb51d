// Helpers for the room tests: room pages (web/room.html driven through window.junctionRoom),
// a controllable network link between one page and the server, raw /rtc WebSocket clients,
// and HS256 access tokens.
//
// Every wait is bounded; every socket and server here is closed by its owner's close().
import { createHmac } from 'node:crypto';
import dgram from 'node:dgram';
import { readdirSync, readFileSync } from 'node:fs';
import net from 'node:net';

import WebSocket from 'ws';

import { assertCleanExit, launchBrowser, startServer, waitFor } from './harness.mjs';

// --- browser processes ---------------------------------------------------------------------

/** PIDs of this process's children whose command starts with `prefix` (e.g. 'chrom'). */
export function childProcesses(prefix) {
  const pids = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let stat;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue; // exited meanwhile
    }
    const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
    const [state, ppid] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(ppid) === process.pid && state !== 'Z' && comm.startsWith(prefix)) pids.push(Number(entry));
  }
  return pids;
}

/** SIGKILL each pid's process group (a browser and its helpers), else the pid alone. */
export function killProcessGroups(pids) {
  for (const pid of pids) {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      try { process.kill(pid, 'SIGKILL'); } catch { /* already gone */ }
    }
  }
}

/**
 * A server (startServer options, at log level info unless set) and a headless Chromium for one
 * describe()'s before(): {server, chromium, pids}, pids being the browser's processes, killed by
 * stopServerAndChromium whatever its close() leaves.
 */
export async function startServerAndChromium(serverOptions = {}) {
  const server = await startServer({ logLevel: 'info', ...serverOptions });
  const chromium = await launchBrowser('chromium');
  return { server, chromium, pids: childProcesses('chrom') };
}

/** For after(): close `pages` and the browser, kill what lingers, stop the server and check
 *  that it exited cleanly (no sanitizer report). Takes what startServerAndChromium returned. */
export async function stopServerAndChromium({ server, chromium, pids = [] } = {}, pages = []) {
  try {
    for (const p of pages) await p.close().catch(() => {});
    await chromium?.close();
  } finally {
    killProcessGroups(pids);
    if (server) assertCleanExit(await server.stop());
  }
}

// --- room pages ---------------------------------------------------------------------------

// Four browsers each encoding one and decoding three streams share two busy cores here: the
// fake camera is asked for a small picture at 15 fps, which keeps every codec cheap.
const SMALL_CAMERA = { width: 320, height: 240, frameRate: 15 };

/** Init script: getUserMedia with video asks for `size` instead of what the page asks for. */
function cameraSizeScript(size) {
  const gum = MediaDevices.prototype.getUserMedia;
  MediaDevices.prototype.getUserMedia = function sizedCamera(constraints, ...rest) {
    if (constraints?.video) constraints = { ...constraints, video: size };
    return gum.call(this, constraints, ...rest);
  };
}

/**
 * Open /room/{room}?name=... in a new page of `browser` (anything with newPage(): a
 * playwright context or a puppeteer browser) and wait until it has joined and published its
 * camera and microphone. `origin` defaults to the server; `initScripts` are [fn, arg] pairs
 * run in the page before its own scripts; `camera` is the capture size ({width, height,
 * frameRate}, SMALL_CAMERA by default); `params` are added to the page's query (camera, mic,
 * layers: see web/room.js); `viewport` ({width, height}, Chromium only) sizes the page.
 */
export async function openRoomPage(browser, origin, room, {
  name, identity, token, initScripts = [], camera = SMALL_CAMERA, params = {}, viewport = null, timeoutMs = 15000,
} = {}) {
  const page = await browser.newPage();
  if (viewport) await page.setViewportSize(viewport);
  page.problems = [];
  page.on('pageerror', (err) => page.problems.push(`pageerror: ${err.message}`));
  page.on('console', (msg) => {
    if (msg.type() === 'error') page.problems.push(`console: ${msg.text()}`);
  });
  for (const [fn, arg] of [[cameraSizeScript, camera], ...initScripts]) {
    // playwright (Chromium) and puppeteer (Firefox) name this differently.
    if (page.addInitScript) await page.addInitScript(fn, arg);
    else await page.evaluateOnNewDocument(fn, arg);
  }
  const q = new URLSearchParams({ name });
  if (identity) q.set('identity', identity);
  if (token) q.set('token', token);
  for (const [key, value] of Object.entries(params)) q.set(key, value);
  await page.goto(`${origin}/room/${encodeURIComponent(room)}?${q}`, { timeout: 10000, waitUntil: 'domcontentloaded' });
  await waitFor(() => roomState(page),
    (s) => s?.state === 'closed' || (s?.state === 'joined' && s.localTracks.length === 2 && s.localTracks.every((t) => t.id)),
    timeoutMs, { what: `${name} to join ${room} and publish camera + mic` });
  const s = await roomState(page);
  if (s.state !== 'joined') {
    throw new Error(`${name} could not join ${room}: ${JSON.stringify(await roomEvents(page))} ${page.problems.join('; ')}`);
  }
  page.participant = { name, sid: s.sid, identity: s.identity };
  return page;
}

/** window.junctionRoom.state(): {state, sid, identity, participants: [{sid, tracks}], localTracks}. */
export function roomState(page) {
  return page.evaluate(() => window.junctionRoom?.state() ?? null);
}

/** The page's summarised client events since it joined. */
export function roomEvents(page) {
  return page.evaluate(() => window.junctionRoom?.events.slice() ?? []);
}

/**
 * The page's media: {subscribe: {tracks: [{trackId, participant, kind, packetsReceived, framesDecoded}]},
 * inbound: {video: [...], audio: [...]}} (inbound = the subscribe connection's inbound-rtp).
 */
export function roomStats(page) {
  return page.evaluate(() => window.junctionRoom?.stats() ?? null);
}

/** Sum of the page's inbound counters by kind, and the per-track rows by track id. */
export function summarize(stats) {
  const sum = (rows, key) => rows.reduce((n, r) => n + r[key], 0);
  return {
    videoStreams: stats.inbound.video.length,
    audioStreams: stats.inbound.audio.length,
    framesDecoded: sum(stats.inbound.video, 'framesDecoded'),
    audioPackets: sum(stats.inbound.audio, 'packetsReceived'),
    tracks: Object.fromEntries(stats.subscribe.tracks.map((t) => [t.trackId, t])),
  };
}

/**
 * Wait until the page receives exactly `video` video and `audio` audio inbound-rtp streams,
 * each of them decoding (video framesDecoded) or receiving (audio packets), and every one of
 * its counters still increasing `windowMs` later. Returns the later summary.
 */
export async function waitForFlowingMedia(page, { video, audio, timeoutMs = 20000, windowMs = 1000, what = '' }) {
  const deadline = Date.now() + timeoutMs;
  let last = null;
  for (;;) {
    const left = deadline - Date.now();
    try {
      const first = await waitFor(() => roomStats(page), (s) => s && s.inbound.video.length === video
        && s.inbound.audio.length === audio && s.inbound.video.every((r) => r.framesDecoded > 0)
        && s.inbound.audio.every((r) => r.packetsReceived > 0), Math.max(left, 1),
      { intervalMs: 250, what: `${what} ${video} video + ${audio} audio inbound streams flowing` });
      await new Promise((resolve) => setTimeout(resolve, windowMs));
      const second = await roomStats(page);
      last = second;
      if (increasing(first, second, video, audio)) return second;
    } catch (err) {
      const events = await roomEvents(page).catch(() => []);
      throw new Error(`${err.message}; last: ${JSON.stringify(last ?? (await roomStats(page).catch(() => null)))}; `
        + `last events: ${JSON.stringify(events.filter((e) => e.type !== 'reconnecting').slice(-20))}`);
    }
    if (Date.now() >= deadline) {
      throw new Error(`timed out: ${what} media did not keep increasing: ${JSON.stringify(last)}`);
    }
  }
}

/** Every stream of `before` has a successor in `after` (same ssrc) whose counter grew. */
function increasing(before, after, video, audio) {
  if (after.inbound.video.length !== video || after.inbound.audio.length !== audio) return false;
  const grew = (kind, key) => before.inbound[kind].every((b) => {
    const a = after.inbound[kind].find((r) => r.ssrc === b.ssrc);
    return a && a[key] > b[key];
  });
  return grew('video', 'framesDecoded') && grew('audio', 'packetsReceived');
}

// --- a network link that can fail ---------------------------------------------------------

/**
 * Everything one page exchanges with the server, through proxies in this process:
 * - TCP (the page, its scripts and its /rtc WebSocket): the page is loaded from the proxy's
 *   origin, so its WebSocket goes through it too;
 * - UDP (its media): an init script makes the page's RTCPeerConnections use the proxy's port
 *   instead of the server's candidate port (see udpRedirectScript). The proxy forwards to
 *   server.mediaPort, the first media worker's: the page's room must live there (a room's
 *   sessions go to the worker its name hashes to, src/app/placement.c; "r1" does).
 * drop() is the network going away: open TCP connections are reset, new ones refused, and
 * datagrams in both directions dropped; drop({tcp: false}) loses only the datagrams.
 * restore() brings it back; with `rebind`, media then reaches the server from a new source
 * port, as after a NAT rebinding or a network change.
 */
export async function startNetworkLink(server) {
  let down = false;    // UDP
  let tcpDown = false;
  const tcpSockets = new Set();
  const tcp = net.createServer((client) => {
    if (tcpDown) {
      client.resetAndDestroy();
      return;
    }
    const upstream = net.connect(server.httpPort, '127.0.0.1');
    for (const [a, b] of [[client, upstream], [upstream, client]]) {
      tcpSockets.add(a);
      a.on('error', () => {});
      a.on('close', () => {
        tcpSockets.delete(a);
        b.destroy();
      });
      a.pipe(b);
    }
  });
  await new Promise((resolve) => tcp.listen(0, '127.0.0.1', resolve));

  const front = dgram.createSocket('udp4');
  const upstreams = new Map(); // "ip:port" of the page -> socket towards the server
  front.on('message', (msg, from) => {
    if (down) return;
    const key = `${from.address}:${from.port}`;
    let up = upstreams.get(key);
    if (!up) {
      up = dgram.createSocket('udp4');
      up.on('message', (reply) => {
        if (!down && upstreams.get(key) === up) front.send(reply, from.port, from.address);
      });
      up.on('error', () => {});
      up.bind(0, '127.0.0.1');
      upstreams.set(key, up);
    }
    up.send(msg, server.mediaPort, '127.0.0.1');
  });
  await new Promise((resolve) => front.bind(0, '127.0.0.1', resolve));

  return {
    origin: `http://127.0.0.1:${tcp.address().port}`,
    udpPort: front.address().port,
    drop({ tcp: dropTcp = true } = {}) {
      down = true;
      if (!dropTcp) return;
      tcpDown = true;
      for (const s of tcpSockets) s.resetAndDestroy();
    },
    restore({ rebind = false } = {}) {
      if (rebind) {
        for (const up of upstreams.values()) up.close();
        upstreams.clear();
      }
      down = false;
      tcpDown = false;
    },
    async close() {
      down = true;
      tcpDown = true;
      for (const s of tcpSockets) s.destroy();
      for (const up of upstreams.values()) up.close();
      upstreams.clear();
      front.close();
      await new Promise((resolve) => tcp.close(resolve));
    },
  };
}

/**
 * Init script for openRoomPage: in the answers its RTCPeerConnections get, the server's
 * candidates become one, 127.0.0.1:`toPort` (the link's UDP proxy), so that is the only path
 * the page's media can take.
 */
export function udpRedirectScript({ toPort }) {
  const setRemote = RTCPeerConnection.prototype.setRemoteDescription;
  RTCPeerConnection.prototype.setRemoteDescription = function redirected(desc, ...rest) {
    if (desc?.sdp) {
      const sdp = desc.sdp.split('\r\n').filter((line) => !line.startsWith('a=candidate:') || / 127\.0\.0\.1 \d+ typ /.test(line))
        .map((line) => line.replace(/^(a=candidate:.* 127\.0\.0\.1 )\d+( typ .*)$/, `$1${toPort}$2`)).join('\r\n');
      desc = { type: desc.type, sdp };
    }
    return setRemote.call(this, desc, ...rest);
  };
}

// --- raw /rtc clients ---------------------------------------------------------------------

/**
 * A raw WebSocket on /rtc: send(obj | string), next(predicate, timeoutMs) for the next
 * message matching, messages (all received), closed (a promise of {code, reason}).
 */
export async function rtcSocket(baseUrl, { timeoutMs = 5000 } = {}) {
  const ws = new WebSocket(`${baseUrl.replace(/^http/, 'ws')}/rtc`);
  const messages = [];
  const waiters = [];
  ws.on('message', (data, isBinary) => {
    let msg;
    try {
      msg = JSON.parse(isBinary ? '' : data.toString());
    } catch {
      msg = { type: '(not json)', raw: data.toString() };
    }
    messages.push(msg);
    for (const w of waiters.slice()) {
      if (w.predicate(msg)) {
        waiters.splice(waiters.indexOf(w), 1);
        clearTimeout(w.timer);
        w.resolve(msg);
      }
    }
  });
  const closed = new Promise((resolve) => ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })));
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('WebSocket /rtc did not open')), timeoutMs);
    ws.once('open', () => { clearTimeout(timer); resolve(); });
    ws.once('error', (err) => { clearTimeout(timer); reject(err); });
  });
  return {
    messages,
    closed,
    send(msg) {
      ws.send(typeof msg === 'string' ? msg : JSON.stringify(msg));
    },
    /** The first message (already received or to come) that matches; throws after timeoutMs. */
    next(predicate, ms = timeoutMs) {
      const seen = messages.find(predicate);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const w = { predicate, resolve };
        w.timer = setTimeout(() => {
          waiters.splice(waiters.indexOf(w), 1);
          reject(new Error(`no matching message in ${ms} ms; got ${JSON.stringify(messages)}`));
        }, ms);
        waiters.push(w);
      });
    },
    /** Resolves with {code, reason} once closed, or null if still open after ms. */
    closedWithin(ms) {
      return Promise.race([closed, new Promise((resolve) => setTimeout(() => resolve(null), ms))]);
    },
    close() {
      ws.terminate();
    },
  };
}

// --- access tokens ------------------------------------------------------------------------

const b64url = (data) => Buffer.from(data).toString('base64url');

/**
 * An HS256 JWT as docs/AUTH.md describes it. `claims` are merged over the defaults
 * (iss = key, sub, room, iat/nbf = now, exp = now + 600, grants publish + subscribe).
 */
export function mintToken({ key, secret, room, identity, name, claims = {}, header = { alg: 'HS256', typ: 'JWT' } }) {
  const now = Math.floor(Date.now() / 1000);
  const payload = {
    iss: key, sub: identity, room, iat: now, nbf: now, exp: now + 600,
    grants: { publish: true, subscribe: true }, ...(name ? { name } : {}), ...claims,
  };
  const signingInput = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(payload))}`;
  const signature = createHmac('sha256', secret).update(signingInput).digest('base64url');
  return `${signingInput}.${signature}`;
}
