// AV1 SVC end to end: headless Chromium publishes AV1 L3T3_KEY (libaom, fake 1280x720 camera,
// three spatial layers 320/640/1280 wide, three temporal layers) with the Dependency Descriptor
// into a room over /rtc; two pages of the same browser subscribe.
//   - `dd` asks its transceiver for the Dependency Descriptor (Chromium offers it for receiving
//     only when asked: setHeaderExtensionsToNegotiate), so the server may forward any layer.
//   - `plain` offers what Chromium offers by default (no descriptor): the server forwards the
//     base spatial layer only (a receiver without the descriptor cannot take a picture's spatial
//     layers apart), but at every temporal layer.
//
// Run (after building the server):  node --test --test-concurrency=1 tests/e2e/av1_svc.test.mjs
// Environment: JUNCTION_BIN, CHROMIUM_BIN, JUNCTION_KEEP_LOGS=1 (see lib/harness.mjs).
//
// The tests build on each other (one publisher, one browser). Every wait is bounded; pages and
// the browser are closed in after(), and what lingers is killed by PID.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';

import { apiJson, waitFor, withServerLog } from './lib/harness.mjs';
import { startServerAndChromium, stopServerAndChromium } from './lib/room.mjs';

const ROOM = 'av1-svc';
const DD_URI = 'https://aomediacodec.github.io/av1-rtp-spec/#dependency-descriptor-rtp-header-extension';

/** In the page: a /rtc client with request/response. */
function rtcClientScript() {
  window.rtc = {
    open(url) {
      return new Promise((resolve, reject) => {
        const ws = new WebSocket(url);
        this.ws = ws;
        this.pending = new Map();
        this.nextId = 1;
        ws.onmessage = (e) => {
          const msg = JSON.parse(e.data);
          const p = msg.id !== undefined && this.pending.get(msg.id);
          if (!p) return;
          this.pending.delete(msg.id);
          if (msg.type === 'error') p.reject(new Error(`${msg.code}: ${msg.message}`));
          else p.resolve(msg);
        };
        ws.onopen = () => resolve();
        ws.onerror = () => reject(new Error('websocket failed'));
      });
    },
    request(msg) {
      const id = this.nextId++;
      return new Promise((resolve, reject) => {
        this.pending.set(id, { resolve, reject });
        this.ws.send(JSON.stringify({ ...msg, id }));
      });
    },
  };
}

/** Join and publish the camera as AV1 L3T3_KEY; returns the track id and the answer. */
function publish(page, wsUrl) {
  return page.evaluate(async (url) => {
    await rtc.open(url);
    await rtc.request({ type: 'join', room: 'av1-svc', identity: 'publisher' });
    const stream = await navigator.mediaDevices.getUserMedia({ video: { width: 1280, height: 720 } });
    const pc = new RTCPeerConnection();
    window.pc = pc;
    const tr = pc.addTransceiver(stream.getVideoTracks()[0], {
      direction: 'sendonly',
      sendEncodings: [{ scalabilityMode: 'L3T3_KEY' }],
    });
    const codecs = RTCRtpSender.getCapabilities('video').codecs;
    const av1 = (c) => c.mimeType === 'video/AV1';
    tr.setCodecPreferences([...codecs.filter(av1), ...codecs.filter((c) => !av1(c))]);
    await pc.setLocalDescription(await pc.createOffer());
    const answer = await rtc.request({ type: 'publish', sdp: pc.localDescription.sdp,
      tracks: [{ mid: tr.mid, source: 'camera' }] });
    await pc.setRemoteDescription({ type: 'answer', sdp: answer.sdp });
    return { track: answer.tracks[0].id, sdp: answer.sdp };
  }, wsUrl);
}

/** Join as `identity` and subscribe to `track`, asking for the descriptor when `dd`; returns the answer. */
function subscribe(page, wsUrl, track, identity, dd) {
  return page.evaluate(async ({ url, track, identity, dd, ddUri }) => {
    await rtc.open(url);
    await rtc.request({ type: 'join', room: 'av1-svc', identity });
    const pc = new RTCPeerConnection();
    window.pc = pc;
    const tr = pc.addTransceiver('video', { direction: 'recvonly' });
    if (dd) {
      tr.setHeaderExtensionsToNegotiate(tr.getHeaderExtensionsToNegotiate().map((e) =>
        (e.uri === ddUri ? { ...e, direction: 'recvonly' } : e)));
    }
    await pc.setLocalDescription(await pc.createOffer());
    const answer = await rtc.request({ type: 'subscribe', sdp: pc.localDescription.sdp,
      tracks: { [tr.mid]: track } });
    await pc.setRemoteDescription({ type: 'answer', sdp: answer.sdp });
    return answer.sdp;
  }, { url: wsUrl, track, identity, dd, ddUri: DD_URI });
}

/**
 * The page's video from getStats(): what a subscriber decodes ('inbound-rtp') or what the
 * publisher's camera gives its encoder ('media-source': pictures, each encoded as a frame per
 * spatial layer), and the codec of its RTP stream.
 */
function videoStats(page, type = 'inbound-rtp') {
  return page.evaluate(async (type) => {
    const stats = await pc.getStats();
    const rtp = [...stats.values()].find((s) => s.type.endsWith('bound-rtp') && s.kind === 'video');
    const codec = rtp?.codecId ? stats.get(rtp.codecId)?.mimeType : undefined;
    if (type === 'media-source') {
      const src = [...stats.values()].find((s) => s.type === type && s.kind === 'video');
      return { frames: src?.frames ?? 0, codec };
    }
    return { frameWidth: rtp?.frameWidth ?? 0, frameHeight: rtp?.frameHeight ?? 0,
      frames: rtp?.framesDecoded ?? 0, codec };
  }, type);
}

/**
 * Waits until the page has decoded 30 frames (a second) in a row `width` wide: before the
 * subscriber's first bandwidth estimate the server sends the best layer, then what fits.
 */
async function expectWidth(page, width, what, timeoutMs = 20000) {
  const started = Date.now();
  let since = null; // framesDecoded when this run of `width` began
  const s = await waitFor(() => videoStats(page), (x) => {
    if (x.frameWidth !== width) {
      since = null;
      return false;
    }
    since ??= x.frames;
    return x.frames >= since + 30;
  }, timeoutMs, { what: `${what}: 30 frames decoded ${width} wide` });
  console.log(`# ${what}: ${s.frameWidth}x${s.frameHeight} after ${Date.now() - started} ms` +
    ` (framesDecoded ${s.frames})`);
  return s;
}

/** Frames per second over `ms` of a page's video stream. */
async function frameRate(page, type, ms) {
  const a = await videoStats(page, type);
  const t0 = Date.now();
  await sleep(ms);
  const b = await videoStats(page, type);
  return ((b.frames - a.frames) * 1000) / (Date.now() - t0);
}

describe('AV1 SVC (L3T3_KEY, Dependency Descriptor) from Chromium', { timeout: 90000 }, () => {
  let env;
  let server;
  let browser;
  const pages = [];
  let pub, dd, plain, track;

  before(async () => {
    env = await startServerAndChromium({ extraArgs: ['--workers', '1'] });
    ({ server, chromium: browser } = env);
    for (let i = 0; i < 3; i++) {
      const page = await browser.context.newPage();
      await page.addInitScript(rtcClientScript);
      await page.goto(`${server.baseUrl}/api/health`);
      pages.push(page);
    }
    [pub, dd, plain] = pages;
  });

  after(() => stopServerAndChromium(env, pages));

  const wsUrl = () => `${server.baseUrl.replace(/^http/, 'ws')}/rtc`;
  const settings = (page, msg) => page.evaluate((m) => rtc.request({ type: 'track_settings', ...m }), msg);

  test('a subscriber with the descriptor gets the top layer (1280 wide)', async () => withServerLog(server, async () => {
    const published = await publish(pub, wsUrl());
    track = published.track;
    assert.match(published.sdp, /a=rtpmap:\d+ AV1\/90000/);
    assert.ok(published.sdp.includes(DD_URI), 'the publisher negotiated the Dependency Descriptor');
    const answer = await subscribe(dd, wsUrl(), track, 'dd', true);
    assert.ok(answer.includes(DD_URI), 'the subscriber negotiated the Dependency Descriptor');
    // From the first estimate up, probing the link step by step.
    await expectWidth(dd, 1280, 'dd, no settings', 40000);
    assert.equal((await videoStats(pub, 'media-source')).codec, 'video/AV1');
    assert.equal((await videoStats(dd)).codec, 'video/AV1');
  }));

  test('max_spatial 0 takes it to the lowest layer (320 wide) and back, decoding throughout', async () => withServerLog(server, async () => {
    const before = await videoStats(dd);
    await settings(dd, { track, max_spatial: 0 });
    const low = await expectWidth(dd, 320, 'dd, max_spatial 0');
    await settings(dd, { track });
    const top = await expectWidth(dd, 1280, 'dd, no settings again');
    assert.ok(before.frames < low.frames && low.frames < top.frames, 'framesDecoded keeps rising');
  }));

  test('a subscriber without the descriptor gets the lowest layer at more than its base frame rate', async () => withServerLog(server, async () => {
    const answer = await subscribe(plain, wsUrl(), track, 'plain', false);
    assert.ok(!answer.includes(DD_URI), 'no Dependency Descriptor negotiated');
    await expectWidth(plain, 320, 'plain, no settings');
    // Up-switches wait for the policy's hold time (2 s): measure after it.
    await waitFor(async () => {
      const stats = await apiJson(server.baseUrl, '/api/stats');
      const sessions = stats.session_list ?? stats.workers?.flatMap((w) => w.session_list ?? []) ?? [];
      return sessions.flatMap((s) => s.tracks ?? []).filter((t) => t.kind === 'video' && t.layer)
        .map((t) => t.layer);
    }, (layers) => layers.some((l) => l.spatial === 0 && l.temporal === 2), 10000,
    { what: 'a subscriber at spatial 0, temporal 2' });
    const [sentFps, gotFps] = await Promise.all([frameRate(pub, 'media-source', 3000), frameRate(plain, 'inbound-rtp', 3000)]);
    console.log(`# plain: ${gotFps.toFixed(1)} fps decoded of ${sentFps.toFixed(1)} fps captured`);
    // The base temporal layer alone is a quarter of the pictures.
    assert.ok(gotFps > sentFps / 2, `plain decodes ${gotFps.toFixed(1)} of ${sentFps.toFixed(1)} fps`);
    const dims = await videoStats(plain);
    assert.equal(dims.frameWidth, 320);
  }));
});
