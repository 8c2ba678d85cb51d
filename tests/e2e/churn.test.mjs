// Churn soak: Chromium publishers and viewers join and leave continuously for
// JUNCTION_CHURN_SECONDS (default 60); afterwards the server must hold no session and be
// back near its baseline in open descriptors and memory.
//
// Short (CI):  JUNCTION_BIN=build-asan/junction node --test tests/e2e/churn.test.mjs
// 30 minutes:  JUNCTION_CHURN_SECONDS=1800 JUNCTION_BIN=build/junction node --test tests/e2e/churn.test.mjs
//
// Two lanes run side by side, each with its own publisher page and viewer page. A cycle
// publishes a stream, watches it until frames decode, then leaves one of three ways in
// turn: the page's Stop (WHIP/WHEP DELETE), navigating away (the pagehide DELETE), or
// closing the RTCPeerConnection without a DELETE (DTLS close_notify ends the session).
// Every third cycle the viewer arrives before the publisher.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';

import {
  apiJson, assertCleanExit, getStats, launchBrowser, sessionState, startServer, stopSession,
  waitFor,
} from './lib/harness.mjs';
import { isAsanProcess, procUsage } from './lib/attack.mjs';

// Keep ASan's quarantine of freed memory small so RSS reflects what the server holds.
const SERVER_ENV = { ASAN_OPTIONS: [process.env.ASAN_OPTIONS, 'quarantine_size_mb=16'].filter(Boolean).join(':') };

const SECONDS = Number(process.env.JUNCTION_CHURN_SECONDS ?? 60);
const LANES = 2;

describe(`churn: sessions joining and leaving for ${SECONDS} s`, { timeout: (SECONDS + 150) * 1000 }, () => {
  let server;
  let browser;
  const lanes = [];

  before(async () => {
    // Short HTTP idle timeout: kept-alive browser connections must not blur the fd count.
    server = await startServer({ logLevel: 'info', extraArgs: ['--ice-consent-timeout', '5', '--http-idle-timeout', '2'],
      env: SERVER_ENV });
    browser = await launchBrowser();
    for (let i = 0; i < LANES; i++) {
      lanes.push({ publisher: await browser.context.newPage(), viewer: await browser.context.newPage() });
    }
  });

  after(async () => {
    try {
      for (const l of lanes) {
        await l.publisher.close().catch(() => {});
        await l.viewer.close().catch(() => {});
      }
      await browser?.close();
    } finally {
      await server?.stop();
    }
  });

  async function join(page, kind, stream, waitState) {
    await page.goto(`${server.baseUrl}/?${kind}=${stream}`, { timeout: 10000, waitUntil: 'domcontentloaded' });
    if (!waitState) return;
    const s = await waitFor(() => sessionState(page, kind), (x) => x && (x.state === waitState || x.state === 'failed'),
      15000, { what: `${kind} ${stream} to be ${waitState}` });
    assert.equal(s.state, waitState, `${kind} ${stream}: ${JSON.stringify(s.error)}`);
  }

  async function leave(page, kind, how) {
    if (how === 0) {
      await stopSession(page, kind);
    } else if (how === 2) {
      await page.evaluate((k) => { // no DELETE: only DTLS close_notify tells the server
        const s = window.junction[k];
        s.resource = null;
        s.pc?.close();
      }, kind);
    }
    await page.goto('about:blank'); // how === 1: the page's pagehide DELETE
  }

  async function cycle(lane, n) {
    const stream = `churn${lane.id}-${n % 3}`;
    const viewerFirst = n % 3 === 2;
    if (viewerFirst) await join(lane.viewer, 'watch', stream, null);
    await join(lane.publisher, 'publish', stream, 'live');
    if (!viewerFirst) await join(lane.viewer, 'watch', stream, null);
    await waitFor(() => getStats(lane.viewer, 'watch'), (s) => s && s.videoFramesDecoded > 5, 20000,
      { intervalMs: 200, what: `viewer of ${stream} to decode` });
    const how = n % 3;
    await leave(lane.viewer, 'watch', how);
    await leave(lane.publisher, 'publish', (how + 1) % 3);
  }

  async function settled() {
    // Sessions left without DELETE end by close_notify, or by consent expiry (5 s here).
    const stats = await waitFor(() => apiJson(server.baseUrl, '/api/stats'),
      (s) => s.sessions === 0 && s.tracks.length === 0, 20000, { what: 'no sessions and no tracks' });
    await sleep(3000); // idle HTTP connections (2 s timeout) are closed by now
    return stats;
  }

  test('every session ends and descriptors and memory return to baseline', async (t) => {
    try {
      lanes.forEach((l, i) => { l.id = i; });
      await Promise.all(lanes.map((l) => cycle(l, 0))); // warm-up: first-use allocations
      await settled();
      const asan = isAsanProcess(server.pid);
      const baseline = procUsage(server.pid);

      const deadline = Date.now() + SECONDS * 1000;
      let cycles = 0;
      await Promise.all(lanes.map(async (l) => {
        for (let n = 1; Date.now() < deadline; n++) {
          await cycle(l, n);
          cycles++;
        }
      }));
      const stats = await settled();
      assert.equal(stats.limits.half_open, 0);
      // Descriptors are closed at once; memory is given back by the allocator, allow slack.
      const end = await waitFor(async () => procUsage(server.pid), (u) => u.fds <= baseline.fds, 5000,
        { what: `open descriptors back to ${baseline.fds}` });
      const mb = (kb) => Math.round(kb / 1024);
      t.diagnostic(`${cycles} cycles (${cycles * 2} sessions) in ${SECONDS} s; fds ${baseline.fds} -> ${end.fds}; ` +
        `RSS ${mb(baseline.rssKb)} -> ${mb(end.rssKb)} MB (asan=${asan})`);
      assert.ok(cycles >= SECONDS / 3, `only ${cycles} cycles in ${SECONDS} s`);
      const slack = asan ? 64 * 1024 : 24 * 1024;
      assert.ok(end.rssKb <= baseline.rssKb + slack, `RSS ${mb(baseline.rssKb)} MB -> ${mb(end.rssKb)} MB`);
    } catch (err) {
      throw new Error(`${err?.message ?? err}\n--- server log ---\n${server.logTail(60)}`, { cause: err });
    }
    for (const l of lanes) {
      await l.publisher.close();
      await l.viewer.close();
    }
    assertCleanExit(await server.stop());
  });
});
