// End-to-end WHIP/WHEP with headless Firefox ESR, alone and mixed with Chromium.
//
// Run (after building build/junction):  node --test --test-concurrency=1 tests/e2e/
// Environment: JUNCTION_BIN (default build/junction), FIREFOX_BIN (default /usr/bin/firefox-esr),
// CHROMIUM_BIN (default /usr/bin/chromium), JUNCTION_KEEP_LOGS=1 to keep the server log.
//
// Tests run one after another and share one server, one Firefox and one Chromium; the state a
// test builds on is noted where it matters. Every page uses the web app (web/app.js), so this
// also checks that the app publishes and watches in Firefox.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import os from 'node:os';
import { after, before, describe, test } from 'node:test';

import {
  apiJson, assertCleanExit, getStats, launchBrowser, liveProcessesInGroup, openPublisher,
  openViewer, sessionState, startServer, stopSession, waitFor, waitForDecoding, withServerLog,
} from './lib/harness.mjs';

function assertDecoded(s, minFrames, who) {
  assert.ok(s.hasInboundVideo && s.videoFramesDecoded > minFrames, `${who} video decoded: ${JSON.stringify(s)}`);
  assert.ok(s.hasInboundAudio && s.audioPacketsReceived > 0, `${who} audio received: ${JSON.stringify(s)}`);
  assert.equal(s.connectionState, 'connected', `${who}: ${JSON.stringify(s)}`);
}

/** DELETE each session through the page's Stop path, check no page error, close the pages. */
async function stopAndClose(entries, pages) {
  for (const [page, kind] of entries) await stopSession(page, kind);
  for (const [page, kind] of entries) {
    const s = await sessionState(page, kind);
    assert.equal(s.error, null, `${kind} page reported an error: ${JSON.stringify(s.error)}`);
    await page.close();
    pages.splice(pages.indexOf(page), 1);
  }
}

describe('WHIP/WHEP with Firefox ESR', { timeout: 240000 }, () => {
  let server;
  let firefox;
  let chromium;
  const pages = []; // closed in after()

  before(async () => {
    server = await startServer();
    firefox = await launchBrowser('firefox');
    chromium = await launchBrowser('chromium');
  });

  after(async () => {
    try {
      for (const p of pages) await p.close().catch(() => {});
      await firefox?.close();
      await chromium?.close();
    } finally {
      await server?.stop();
    }
  });

  test('Firefox publishes; a Chromium viewer and a Firefox viewer decode (f1)', async () => withServerLog(server, async () => {
    const publisher = await openPublisher(firefox.context, server.baseUrl, 'f1');
    pages.push(publisher);
    const chromiumViewer = await openViewer(chromium.context, server.baseUrl, 'f1');
    pages.push(chromiumViewer);
    const firefoxViewer = await openViewer(firefox.context, server.baseUrl, 'f1');
    pages.push(firefoxViewer);

    const [chromiumStats, firefoxStats] = await Promise.all([chromiumViewer, firefoxViewer]
      .map((v) => waitForDecoding(v, { minFrames: 100, timeoutMs: 30000 })));
    assertDecoded(chromiumStats, 100, 'Chromium viewer');
    assertDecoded(firefoxStats, 100, 'Firefox viewer');
    const ps = await getStats(publisher, 'publish');
    assert.ok(ps.videoFramesSent > 100 && ps.audioPacketsSent > 0, `Firefox publisher: ${JSON.stringify(ps)}`);

    const stats = await apiJson(server.baseUrl, '/api/stats');
    assert.equal(stats.sessions, 3, JSON.stringify(stats));

    // The pages' WHIP and WHEP DELETEs end every session.
    await stopAndClose([[publisher, 'publish'], [chromiumViewer, 'watch'], [firefoxViewer, 'watch']], pages);
    const end = await waitFor(() => apiJson(server.baseUrl, '/api/stats'), (s) => s.sessions === 0,
      5000, { what: '/api/stats sessions == 0' });
    assert.equal(end.sessions, 0);
  }));

  test('Chromium publishes; a Firefox viewer decodes, and its DELETE cleans up (f2)', async () => withServerLog(server, async () => {
    const publisher = await openPublisher(chromium.context, server.baseUrl, 'f2');
    pages.push(publisher);
    const viewer = await openViewer(firefox.context, server.baseUrl, 'f2');
    pages.push(viewer);
    assertDecoded(await waitForDecoding(viewer, { minFrames: 100, timeoutMs: 30000 }), 100, 'Firefox viewer');

    await stopAndClose([[viewer, 'watch']], pages);
    const mid = await waitFor(() => apiJson(server.baseUrl, '/api/stats'), (s) => s.sessions === 1,
      5000, { what: '/api/stats sessions == 1 (the publisher)' });
    assert.equal(mid.subscribers, 0, JSON.stringify(mid));
    assert.equal(mid.publishers, 1, JSON.stringify(mid));

    await stopAndClose([[publisher, 'publish']], pages);
    const end = await waitFor(() => apiJson(server.baseUrl, '/api/stats'), (s) => s.sessions === 0,
      5000, { what: '/api/stats sessions == 0' });
    assert.equal(end.sessions, 0);
  }));

  test('a Firefox viewer that joins before its Firefox publisher decodes (f3)', async () => withServerLog(server, async () => {
    const viewer = await openViewer(firefox.context, server.baseUrl, 'f3', { waitState: null });
    pages.push(viewer);
    const st = await waitFor(() => sessionState(viewer, 'watch'),
      (s) => s && (s.resource || s.state === 'failed'), 10000, { what: 'WHEP session on f3' });
    assert.ok(st.resource, `WHEP before publisher failed: ${JSON.stringify(st.error)}`);
    const publisher = await openPublisher(firefox.context, server.baseUrl, 'f3');
    pages.push(publisher);
    assertDecoded(await waitForDecoding(viewer, { minFrames: 60, timeoutMs: 30000 }), 60, 'Firefox viewer');
    await stopAndClose([[publisher, 'publish'], [viewer, 'watch']], pages);
    const end = await waitFor(() => apiJson(server.baseUrl, '/api/stats'), (s) => s.sessions === 0,
      5000, { what: '/api/stats sessions == 0' });
    assert.equal(end.sessions, 0);
  }));

  // Firefox pairs a loopback server candidate only when media.peerconnection.ice.loopback is
  // set (off by default, unlike Chromium): a stock Firefox needs media on a real address.
  const hasNonLoopbackIPv4 = Object.values(os.networkInterfaces()).flat()
    .some((a) => a.family === 'IPv4' && !a.internal);
  test('a Firefox with stock ICE prefs publishes and views when media listens on 0.0.0.0',
    { skip: !hasNonLoopbackIPv4 && 'no non-loopback IPv4 address here' }, async () => {
      const lanServer = await startServer({ extraArgs: ['--media-listen', '0.0.0.0'] });
      let stock;
      try {
        await withServerLog(lanServer, async () => {
          stock = await launchBrowser('firefox', { prefs: { 'media.peerconnection.ice.loopback': false } });
          await openPublisher(stock.context, lanServer.baseUrl, 'lan');
          const viewer = await openViewer(stock.context, lanServer.baseUrl, 'lan');
          assertDecoded(await waitForDecoding(viewer, { minFrames: 60, timeoutMs: 30000 }), 60, 'Firefox viewer');
        });
      } finally {
        await stock?.close(); // with its pages
        await lanServer.stop();
      }
    });

  test('the web app shows the server\'s 401 in Firefox', async () => {
    const tokenServer = await startServer({ token: 'secret' });
    try {
      await withServerLog(tokenServer, async () => {
        const page = await firefox.context.newPage();
        pages.push(page);
        await page.goto(`${tokenServer.baseUrl}/?publish=t1&token=wrong`,
          { timeout: 10000, waitUntil: 'domcontentloaded' });
        const st = await waitFor(() => sessionState(page, 'publish'), (s) => s && s.state === 'failed', 10000,
          { what: 'the page to report the 401' });
        assert.equal(st.error.status, 401, JSON.stringify(st.error));
        const shown = await page.evaluate(() => document.querySelector('#publish-error').textContent);
        assert.match(shown, /401/);
        assert.equal((await apiJson(tokenServer.baseUrl, '/api/stats')).sessions, 0);
        await page.close();
        pages.splice(pages.indexOf(page), 1);
      });
    } finally {
      await tokenServer.stop();
    }
  });

  test('Firefox quits and leaves no process or profile behind', async () => {
    for (const p of pages.splice(0)) await p.close().catch(() => {});
    const { pid, profileDir } = firefox;
    await firefox.close();
    firefox = null;
    // Its content processes share the browser's process group (puppeteer starts it detached).
    assert.deepEqual(liveProcessesInGroup(pid), [], `firefox process group ${pid} still running`);
    assert.equal(existsSync(profileDir), false, `profile ${profileDir} left behind`);
  });

  test('the server shuts down cleanly on SIGTERM (exit 0, no sanitizer report)', async () => {
    assertCleanExit(await server.stop());
  });
});
