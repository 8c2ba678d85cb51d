// Simulcast probe (a script, not part of the suites): one headless Chromium publishes 3-layer
// VP8 simulcast (fake 1280x720 camera, rids q/h/f scaled down by 4/2/1) into a room over /rtc,
// a second page subscribes, and the subscriber's track_settings move what it receives. Prints
// the frame width the subscriber decodes after each step and the publisher's encodings as
// /api/stats sees them; exits non-zero when a step does not show the expected layer.
//
// Run (after building the server):  node tests/e2e/simulcast_probe.mjs
// Environment: JUNCTION_BIN, CHROMIUM_BIN, JUNCTION_KEEP_LOGS=1 (see lib/harness.mjs).
import assert from 'node:assert/strict';

import { apiJson, launchBrowser, startServer, waitFor } from './lib/harness.mjs';

/** In the page: a /rtc client with request/response and an event log. */
function rtcClientScript() {
  window.rtc = {
    open(url) {
      return new Promise((resolve, reject) => {
        const ws = new WebSocket(url);
        this.ws = ws;
        this.events = [];
        this.pending = new Map();
        this.nextId = 1;
        ws.onmessage = (e) => {
          const msg = JSON.parse(e.data);
          this.events.push(msg);
          const p = msg.id !== undefined && this.pending.get(msg.id);
          if (p) {
            this.pending.delete(msg.id);
            if (msg.type === 'error') p.reject(new Error(`${msg.code}: ${msg.message}`));
            else p.resolve(msg);
          }
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

async function publish(page, wsUrl) {
  return page.evaluate(async (url) => {
    await rtc.open(url);
    await rtc.request({ type: 'join', room: 'simulcast', identity: 'publisher' });
    const stream = await navigator.mediaDevices.getUserMedia({ video: { width: 1280, height: 720 } });
    const pc = new RTCPeerConnection();
    window.pc = pc;
    const tr = pc.addTransceiver(stream.getVideoTracks()[0], {
      direction: 'sendonly',
      sendEncodings: [
        { rid: 'q', scaleResolutionDownBy: 4 },
        { rid: 'h', scaleResolutionDownBy: 2 },
        { rid: 'f', scaleResolutionDownBy: 1 },
      ],
    });
    await pc.setLocalDescription(await pc.createOffer());
    const answer = await rtc.request({ type: 'publish', sdp: pc.localDescription.sdp,
      tracks: [{ mid: tr.mid, source: 'camera' }] });
    await pc.setRemoteDescription({ type: 'answer', sdp: answer.sdp });
    return { track: answer.tracks[0].id, answer: answer.sdp };
  }, wsUrl);
}

async function subscribe(page, wsUrl, track) {
  return page.evaluate(async ({ url, track }) => {
    await rtc.open(url);
    await rtc.request({ type: 'join', room: 'simulcast', identity: 'viewer' });
    const pc = new RTCPeerConnection();
    window.pc = pc;
    const tr = pc.addTransceiver('video', { direction: 'recvonly' });
    await pc.setLocalDescription(await pc.createOffer());
    const answer = await rtc.request({ type: 'subscribe', sdp: pc.localDescription.sdp,
      tracks: { [tr.mid]: track } });
    await pc.setRemoteDescription({ type: 'answer', sdp: answer.sdp });
  }, { url: wsUrl, track });
}

function inbound(page) {
  return page.evaluate(async () => {
    const stats = await pc.getStats();
    for (const s of stats.values())
      if (s.type === 'inbound-rtp' && s.kind === 'video')
        return { frameWidth: s.frameWidth ?? 0, frameHeight: s.frameHeight ?? 0,
          framesDecoded: s.framesDecoded ?? 0, keyFramesDecoded: s.keyFramesDecoded ?? 0 };
    return { frameWidth: 0, frameHeight: 0, framesDecoded: 0, keyFramesDecoded: 0 };
  });
}

async function settings(page, msg) {
  await page.evaluate((m) => rtc.request({ type: 'track_settings', ...m }), msg);
}

async function expectWidth(page, width, what, timeoutMs = 20000) {
  const started = Date.now();
  const s = await waitFor(() => inbound(page), (x) => x.frameWidth === width, timeoutMs,
    { what: `${what}: frameWidth ${width}` });
  console.log(`${what}: frameWidth ${s.frameWidth}x${s.frameHeight} after ${Date.now() - started} ms` +
    ` (framesDecoded ${s.framesDecoded}, keyframes ${s.keyFramesDecoded})`);
  return s;
}

const server = await startServer({ logLevel: 'info', extraArgs: ['--workers', '1'] });
const browser = await launchBrowser('chromium');
let failed = false;
try {
  const wsUrl = `${server.baseUrl.replace(/^http/, 'ws')}/rtc`;
  const pub = await browser.context.newPage();
  const sub = await browser.context.newPage();
  for (const p of [pub, sub]) {
    await p.addInitScript(rtcClientScript);
    await p.goto(`${server.baseUrl}/api/health`);
  }
  const { track, answer } = await publish(pub, wsUrl);
  assert.match(answer, /a=simulcast:recv q;h;f/);
  console.log(`published ${track}; answer: ${answer.match(/a=(rid|simulcast).*$/gm).join(' | ')}`);
  await subscribe(sub, wsUrl, track);

  const full = await expectWidth(sub, 1280, 'no settings (bandwidth permitting, the top layer)', 40000);
  await settings(sub, { track, width: 320, height: 180 });
  await expectWidth(sub, 320, 'track_settings 320x180');
  await settings(sub, { track, width: 1280, height: 720 });
  await expectWidth(sub, 1280, 'track_settings 1280x720');
  await settings(sub, { track, max_spatial: 0 });
  await expectWidth(sub, 320, 'track_settings max_spatial 0');
  await settings(sub, { track, max_spatial: 1 });
  const mid = await expectWidth(sub, 640, 'track_settings max_spatial 1');
  assert.ok(mid.framesDecoded > full.framesDecoded, 'framesDecoded keeps rising');

  const stats = await apiJson(server.baseUrl, '/api/stats');
  const sessions = stats.session_list ?? stats.workers?.flatMap((w) => w.session_list ?? []) ?? [];
  const publisher = sessions.find((s) => s.role === 'publisher');
  const encodings = publisher.tracks.find((t) => t.kind === 'video').encodings;
  console.log('publisher encodings:', JSON.stringify(encodings));
  assert.equal(encodings.length, 3);
  const viewer = sessions.find((s) => s.role === 'subscriber');
  console.log('viewer layer:', JSON.stringify(viewer.tracks.find((t) => t.kind === 'video').layer));
} catch (err) {
  failed = true;
  console.error(err);
  console.error(server.logTail(60));
} finally {
  await browser.close();
  const exit = await server.stop();
  if (exit.sanitizerReport) {
    failed = true;
    console.error(exit.sanitizerReport);
  }
}
process.exit(failed ? 1 : 0);
