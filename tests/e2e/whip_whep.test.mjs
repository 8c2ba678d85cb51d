// End-to-end WHIP/WHEP acceptance tests with headless Chromium.
//
// Run (after building build/junction):  node --test --test-concurrency=1 tests/e2e/
// Environment: JUNCTION_BIN (default build/junction), CHROMIUM_BIN (default /usr/bin/chromium),
// JUNCTION_KEEP_LOGS=1 to keep the server logs in their temp directory.
//
// Tests in this file run one after another and share one server and one browser (browsers are
// expensive on a small machine); the state they build on is noted where it matters.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import {
  apiJson, assertCleanExit, garbageDatagrams, getStats, launchBrowser, makeOffer, openPublisher,
  openViewer, request, sendDatagrams, sessionState, startServer, stopSession, waitFor,
  waitForDecoding, withServerLog,
} from './lib/harness.mjs';

function assertJsonError(res, status) {
  assert.equal(res.status, status, `expected ${status}, got ${res.status}: ${res.text}`);
  assert.match(res.headers.get('content-type') ?? '', /application\/json/);
  assert.ok(res.json, `body is not JSON: ${res.text}`);
  assert.equal(typeof res.json.error, 'string', 'error is a string');
  assert.ok(res.json.error.length > 0, 'error is not empty');
  assert.equal(typeof res.json.detail, 'string', 'detail is a string');
}

describe('WHIP/WHEP with Chromium', { timeout: 240000 }, () => {
  let server;
  let browser;
  const pages = []; // closed in after()

  before(async () => {
    server = await startServer();
    browser = await launchBrowser();
  });

  after(async () => {
    try {
      for (const p of pages) await p.close().catch(() => {});
      await browser?.close();
    } finally {
      await server?.stop();
    }
  });

  test('the web page and its assets are served', async () => withServerLog(server, async () => {
    const index = await request(`${server.baseUrl}/`);
    assert.equal(index.status, 200);
    assert.match(index.headers.get('content-type'), /^text\/html/);
    for (const [file, type] of [['/app.js', /javascript/], ['/style.css', /^text\/css/]]) {
      const res = await request(`${server.baseUrl}${file}`);
      assert.equal(res.status, 200, file);
      assert.match(res.headers.get('content-type'), type, file);
    }
    assert.equal((await request(`${server.baseUrl}/no-such-file.js`)).status, 404);

    const page = await browser.context.newPage();
    pages.push(page);
    const errors = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`${server.baseUrl}/`, { timeout: 10000 });
    await waitFor(() => page.evaluate(() => typeof window.junction === 'object'), Boolean, 5000,
      { what: 'app.js to load' });
    assert.deepEqual(errors, []);
    await page.close();
    pages.pop();
  }));

  // Publisher and viewers stay open for the next test.
  let publisher;
  const viewers = [];

  test('three viewers decode one published stream (s1)', async () => withServerLog(server, async () => {
    publisher = await openPublisher(browser.context, server.baseUrl, 's1');
    pages.push(publisher);
    for (let i = 0; i < 3; i++) {
      const v = await openViewer(browser.context, server.baseUrl, 's1');
      pages.push(v);
      viewers.push(v);
    }
    const results = await Promise.all(viewers.map((v) => waitForDecoding(v, { minFrames: 100, timeoutMs: 20000 })));
    for (const s of results) {
      assert.ok(s.hasInboundVideo && s.videoFramesDecoded > 100, `video decoded: ${JSON.stringify(s)}`);
      assert.ok(s.hasInboundAudio && s.audioPacketsReceived > 0, `audio received: ${JSON.stringify(s)}`);
    }
    const stats = await apiJson(server.baseUrl, '/api/stats');
    assert.ok(stats.sessions >= 4, `sessions: ${JSON.stringify(stats)}`);
  }));

  test('after the publisher and viewers DELETE, no sessions remain', async () => withServerLog(server, async () => {
    assert.ok(publisher, 'needs the previous test');
    await stopSession(publisher, 'publish');
    for (const v of viewers) await stopSession(v, 'watch');
    for (const p of [publisher, ...viewers]) {
      const s = await sessionState(p, p === publisher ? 'publish' : 'watch');
      assert.equal(s.error, null, `page reported an error: ${JSON.stringify(s.error)}`);
    }
    const stats = await waitFor(() => apiJson(server.baseUrl, '/api/stats'), (s) => s.sessions === 0,
      5000, { what: '/api/stats sessions == 0' });
    assert.equal(stats.sessions, 0);
    for (const p of [publisher, ...viewers]) {
      await p.close();
      pages.splice(pages.indexOf(p), 1);
    }
  }));

  // s2: viewer first, then the publisher; both stay up for the garbage and 409 tests.
  let lateViewer;
  let s2Publisher;

  test('a viewer that joins before the publisher decodes once it arrives (s2)', async () => withServerLog(server, async () => {
    lateViewer = await openViewer(browser.context, server.baseUrl, 's2', { waitState: null });
    pages.push(lateViewer);
    // The WHEP POST must succeed although nobody publishes yet.
    const st = await waitFor(() => sessionState(lateViewer, 'watch'),
      (s) => s && (s.resource || s.state === 'failed'), 10000, { what: 'WHEP session on s2' });
    assert.ok(st.resource, `WHEP before publisher failed: ${JSON.stringify(st.error)}`);

    s2Publisher = await openPublisher(browser.context, server.baseUrl, 's2');
    pages.push(s2Publisher);
    const s = await waitForDecoding(lateViewer, { minFrames: 60, timeoutMs: 20000 });
    assert.ok(s.videoFramesDecoded > 60);
  }));

  test('garbage datagrams are dropped and do not disturb a live stream', async () => withServerLog(server, async () => {
    assert.ok(lateViewer && s2Publisher, 'needs the previous test');
    const before = await getStats(lateViewer, 'watch');
    const statsBefore = await apiJson(server.baseUrl, '/api/stats');
    assert.equal(typeof statsBefore.dropped_datagrams, 'number', JSON.stringify(statsBefore));

    const sent = await sendDatagrams(server.mediaPort, garbageDatagrams(50));
    assert.equal(sent, 250);

    const statsAfter = await waitFor(() => apiJson(server.baseUrl, '/api/stats'),
      (s) => s.dropped_datagrams > statsBefore.dropped_datagrams, 5000,
      { what: 'dropped_datagrams to increase' });
    assert.ok(statsAfter.dropped_datagrams > statsBefore.dropped_datagrams);

    // Two more seconds of 30 fps video at least.
    const afterStats = await waitFor(() => getStats(lateViewer, 'watch'),
      (s) => s && s.videoFramesDecoded > before.videoFramesDecoded + 45, 10000,
      { what: 'framesDecoded to keep increasing' });
    assert.equal(afterStats.connectionState, 'connected');
  }));

  test('HTTP errors: 400 malformed SDP, 404 unknown session, 409 second publisher, CORS preflight',
    async () => withServerLog(server, async () => {
      const base = server.baseUrl;
      const sdpHeaders = { 'Content-Type': 'application/sdp' };

      for (const endpoint of ['/whip/e1', '/whep/e1']) {
        const bad = await request(`${base}${endpoint}`, { method: 'POST', headers: sdpHeaders, body: 'this is not SDP\r\n' });
        assertJsonError(bad, 400);
      }

      for (const url of ['/whip/s2/no-such-session', '/whep/s2/no-such-session', '/whip/nostream/abc']) {
        assertJsonError(await request(`${base}${url}`, { method: 'DELETE' }), 404);
      }

      // s2 has a live publisher (previous tests): a second one is refused.
      assert.ok(s2Publisher, 'needs the live publisher on s2');
      const offer = await makeOffer(s2Publisher);
      const dup = await request(`${base}/whip/s2`, { method: 'POST', headers: sdpHeaders, body: offer });
      assertJsonError(dup, 409);

      const pre = await request(`${base}/whip/s2`, {
        method: 'OPTIONS',
        headers: { Origin: 'http://example.test', 'Access-Control-Request-Method': 'POST',
          'Access-Control-Request-Headers': 'authorization, content-type' },
      });
      assert.ok(pre.status === 204 || pre.status === 200, `preflight status ${pre.status}`);
      assert.ok(pre.headers.get('access-control-allow-origin'), 'Allow-Origin');
      assert.match(pre.headers.get('access-control-allow-methods') ?? '', /POST/);
      assert.match(pre.headers.get('access-control-allow-methods') ?? '', /DELETE/);
      assert.match(pre.headers.get('access-control-allow-headers') ?? '', /Authorization/i);
      assert.match(pre.headers.get('access-control-allow-headers') ?? '', /Content-Type/i);
      assert.match(pre.headers.get('access-control-expose-headers') ?? '', /Location/);

      // Errors are visible to the page too (CORS headers on error answers).
      const notFound = await request(`${base}/whip/s2/nope`, { method: 'DELETE' });
      assert.ok(notFound.headers.get('access-control-allow-origin'));
    }));

  test('a viewer keeps decoding when the publisher reconnects (s2)', async () => withServerLog(server, async () => {
    assert.ok(lateViewer && s2Publisher, 'needs the previous tests');
    await stopSession(s2Publisher, 'publish'); // WHIP DELETE
    await s2Publisher.close();
    pages.splice(pages.indexOf(s2Publisher), 1);
    const before = await getStats(lateViewer, 'watch');

    s2Publisher = await openPublisher(browser.context, server.baseUrl, 's2');
    pages.push(s2Publisher);
    // The viewer's PeerConnection is untouched: the same inbound stream continues.
    const after = await waitFor(() => getStats(lateViewer, 'watch'),
      (s) => s && s.videoFramesDecoded > before.videoFramesDecoded + 60, 20000,
      { what: 'framesDecoded to rise again after the new publisher arrives' });
    assert.equal(after.connectionState, 'connected');
    const stats = await apiJson(server.baseUrl, '/api/stats');
    assert.equal(stats.publishers, 1);
  }));

  test('with --token, a POST without Authorization gets 401', async () => {
    const tokenServer = await startServer({ token: 'secret' });
    try {
      await withServerLog(tokenServer, async () => {
        const page = await browser.context.newPage();
        pages.push(page);
        await page.goto(`${tokenServer.baseUrl}/`, { timeout: 10000 });
        const offer = await makeOffer(page);
        const url = `${tokenServer.baseUrl}/whip/t1`;
        const headers = { 'Content-Type': 'application/sdp' };
        assertJsonError(await request(url, { method: 'POST', headers, body: offer }), 401);
        assertJsonError(await request(url, { method: 'POST', headers: { ...headers, Authorization: 'Bearer wrong' }, body: offer }), 401);
        const stats = await apiJson(tokenServer.baseUrl, '/api/stats');
        assert.equal(stats.sessions, 0);

        // The page shows the server's error to the user.
        await page.goto(`${tokenServer.baseUrl}/?publish=t1`, { timeout: 10000, waitUntil: 'domcontentloaded' });
        const st = await waitFor(() => sessionState(page, 'publish'), (s) => s && s.state === 'failed', 10000,
          { what: 'the page to report the 401' });
        assert.equal(st.error.status, 401);
        const shown = await page.textContent('#publish-error');
        assert.match(shown, /401/);
      });
    } finally {
      await tokenServer.stop();
    }
  });

  test('the server shuts down cleanly on SIGTERM (exit 0, no sanitizer report)', async () => {
    for (const p of pages.splice(0)) await p.close().catch(() => {});
    assertCleanExit(await server.stop());
  });
});
