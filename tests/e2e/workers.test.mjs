// End-to-end: one stream, and one room, spread over two media workers, with headless Chromium.
//
// The server runs with --workers 2 --workers-spread-threshold 1: the first viewer of a stream
// goes to the stream's home worker (where its publisher is), the next ones to the other
// worker once the stream has more than one downtrack at home. There the stream's tracks are mirrors:
// the home worker hands each packet over once through a lock-free ring. /api/stats shows
// each worker's share; every viewer must decode either way. A room works the same way: its
// publishers on its home worker, its participants' subscribe connections on both.
//
// Run (after building build/junction):  node --test --test-concurrency=1 tests/e2e/
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import {
  apiJson, assertCleanExit, getStats, launchBrowser, openPublisher, openViewer, sessionState,
  startServer, stopSession, waitFor, waitForDecoding, withServerLog,
} from './lib/harness.mjs';
import { openRoomPage, roomState, waitForFlowingMedia } from './lib/room.mjs';

function assertDecoded(s, minFrames, who) {
  assert.ok(s.hasInboundVideo && s.videoFramesDecoded > minFrames, `${who} video decoded: ${JSON.stringify(s)}`);
  assert.ok(s.hasInboundAudio && s.audioPacketsReceived > 0, `${who} audio received: ${JSON.stringify(s)}`);
}

const track = (stats, id) => stats.tracks.find((t) => t.id === id);

describe('one stream over two media workers (Chromium)', { timeout: 240000 }, () => {
  let server;
  let browser;
  const pages = []; // closed in after()

  before(async () => {
    server = await startServer({ extraArgs: ['--workers', '2', '--workers-spread-threshold', '1'] });
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

  async function open(kind, stream, opts) {
    const page = kind === 'publish'
      ? await openPublisher(browser.context, server.baseUrl, stream, opts)
      : await openViewer(browser.context, server.baseUrl, stream, opts);
    pages.push(page);
    return page;
  }

  async function closeAll(entries) {
    for (const [page, kind] of entries) await stopSession(page, kind);
    for (const [page, kind] of entries) {
      const s = await sessionState(page, kind);
      assert.equal(s.error, null, `${kind} page reported an error: ${JSON.stringify(s.error)}`);
      await page.close();
      pages.splice(pages.indexOf(page), 1);
    }
  }

  test('the server runs two workers on consecutive ports', async () => withServerLog(server, async () => {
    const stats = await apiJson(server.baseUrl, '/api/stats');
    assert.equal(stats.workers.length, 2, JSON.stringify(stats.workers));
    assert.deepEqual(stats.workers.map((w) => w.port), [server.mediaPort, server.mediaPort + 1]);
  }));

  test('1 publisher and 3 viewers land on both workers and every viewer decodes (w1)',
    async () => withServerLog(server, async () => {
      const publisher = await open('publish', 'w1');
      const viewers = [];
      for (let i = 0; i < 3; i++) viewers.push(await open('watch', 'w1'));
      const results = await Promise.all(viewers.map((v) => waitForDecoding(v, { minFrames: 60, timeoutMs: 30000 })));
      results.forEach((s, i) => assertDecoded(s, 60, `viewer ${i}`));

      const stats = await apiJson(server.baseUrl, '/api/stats');
      assert.equal(stats.sessions, 4);
      assert.equal(stats.subscribers, 3);
      for (const w of stats.workers) assert.ok(w.subscribers > 0, `worker ${w.worker} has no viewer: ${JSON.stringify(stats.workers)}`);
      const home = stats.workers.find((w) => w.publishers === 1);
      const other = stats.workers.find((w) => w !== home);
      assert.ok(home && other, JSON.stringify(stats.workers));
      assert.equal(home.mirrors, 0);
      assert.equal(other.mirrors, 2, 'the other worker mirrors audio and video');
      assert.ok(home.relay.packets_out > 0 && other.relay.packets_in > 0, JSON.stringify(stats.workers));
      assert.equal(other.relay.ring_full_drops, 0);
      for (const kind of ['audio', 'video']) {
        const t = track(stats, `stream/w1/${kind}`);
        assert.ok(t, `track ${kind}: ${JSON.stringify(stats.tracks)}`);
        assert.equal(t.subscribers, 3, JSON.stringify(t));
        assert.equal(t.workers, 2, JSON.stringify(t));
        assert.equal(t.home, home.worker, JSON.stringify(t));
        assert.equal(t.live, true);
      }
      await closeAll([[publisher, 'publish'], ...viewers.map((v) => [v, 'watch'])]);
      const empty = await waitFor(() => apiJson(server.baseUrl, '/api/stats'),
        (s) => s.sessions === 0 && s.tracks.length === 0, 5000, { what: 'no sessions and no tracks left' });
      for (const w of empty.workers) assert.equal(w.mirrors, 0, JSON.stringify(empty.workers));
    }));

  test('viewers on both workers before the publisher decode once it comes, and after it reconnects (w2)',
    async () => withServerLog(server, async () => {
      const viewers = [];
      for (let i = 0; i < 2; i++) {
        const v = await open('watch', 'w2', { waitState: null });
        await waitFor(() => sessionState(v, 'watch'), (s) => s && (s.resource || s.state === 'failed'), 10000,
          { what: 'WHEP session on w2' });
        viewers.push(v);
      }
      const early = await apiJson(server.baseUrl, '/api/stats');
      for (const w of early.workers) assert.equal(w.subscribers, 1, JSON.stringify(early.workers));

      let publisher = await open('publish', 'w2');
      for (const [i, v] of viewers.entries()) assertDecoded(await waitForDecoding(v, { minFrames: 30, timeoutMs: 30000 }), 30, `viewer ${i}`);

      // A new publisher: the mirror gets the new source through the ring and continues.
      await stopSession(publisher, 'publish');
      await publisher.close();
      pages.splice(pages.indexOf(publisher), 1);
      const before = await Promise.all(viewers.map((v) => getStats(v, 'watch')));
      publisher = await open('publish', 'w2');
      for (const [i, v] of viewers.entries()) {
        const s = await waitFor(() => getStats(v, 'watch'),
          (st) => st && st.videoFramesDecoded > before[i].videoFramesDecoded + 30, 30000,
          { what: `viewer ${i} to decode the new publisher` });
        assert.equal(s.connectionState, 'connected');
      }
      await closeAll([[publisher, 'publish'], ...viewers.map((v) => [v, 'watch'])]);
      await waitFor(() => apiJson(server.baseUrl, '/api/stats'), (s) => s.sessions === 0 && s.tracks.length === 0,
        5000, { what: 'no sessions and no tracks left' });
    }));

  test('a room of three: publishers on its home worker, subscribers on both, everyone receives the others (wr)',
    async () => withServerLog(server, async () => {
      const people = [];
      for (const name of ['Ann', 'Ben', 'Cat']) {
        const page = await openRoomPage(browser.context, server.baseUrl, 'wr', { name });
        pages.push(page);
        people.push(page);
      }
      await Promise.all(people.map((p) => waitForFlowingMedia(p, {
        video: 2, audio: 2, timeoutMs: 30000, what: p.participant.name,
      })));
      const stats = await apiJson(server.baseUrl, '/api/stats');
      assert.equal(stats.publishers, 3);
      assert.equal(stats.workers.filter((w) => w.publishers > 0).length, 1, JSON.stringify(stats.workers));
      for (const w of stats.workers) assert.ok(w.subscribers > 0, `worker ${w.worker} has no subscriber: ${JSON.stringify(stats.workers)}`);
      assert.ok(stats.workers.some((w) => w.mirrors > 0), JSON.stringify(stats.workers));
      for (const p of people) {
        await p.evaluate(() => document.getElementById('leave-button').click());
        await waitFor(() => roomState(p), (s) => s.state === 'closed', 5000, { what: `${p.participant.name} to leave` });
        await p.close();
        pages.splice(pages.indexOf(p), 1);
      }
      await waitFor(() => apiJson(server.baseUrl, '/api/stats'), (s) => s.sessions === 0 && s.tracks.length === 0,
        5000, { what: 'no sessions and no tracks left' });
    }));

  test('the server shuts down cleanly on SIGTERM (exit 0, no sanitizer report)', async () => {
    for (const p of pages.splice(0)) await p.close().catch(() => {});
    assertCleanExit(await server.stop());
  });
});
