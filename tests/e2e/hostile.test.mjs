// Hostile input against a live session: while a Chromium publisher streams to a Chromium
// viewer (the victim), each test attacks the server over HTTP or UDP and then checks that
// the attacker was refused, the viewer kept decoding the whole time, and the server's
// memory stayed bounded.
//
// Run: JUNCTION_BIN=build-asan/junction node --test --test-concurrency=1 tests/e2e/hostile.test.mjs
//
// Attackers use 127.0.0.2 and up, so per-IP limits hit them and not the browser
// (127.0.0.1). The server runs with short timeouts (HTTP idle 5 s, handshake 5 s) so each
// attack's aftermath is visible within the test's time.
//
// What RTCP with lying lengths can reach: SRTCP is authenticated before anything parses
// it, so lying RTCP from anyone without the session's keys (plain, or garbage) is dropped at
// the transport (counted as unknown_source when it comes from an address ICE did not
// validate). Lying RTCP from the session itself does reach the parser: that path is covered
// by src/app/engine_hostile_test.c (a real DTLS-SRTP client) and fuzz/fuzz_rtcp.c.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';

import {
  apiJson, assertCleanExit, launchBrowser, makeOffer, openPublisher, openViewer, startServer,
  waitFor, waitForDecoding, withServerLog,
} from './lib/harness.mjs';
import {
  headThenBody, isAsanProcess, lyingRtcp, procUsage, rawRequest, rtpPacket, sendFrom,
  slowLoris, stunBindingRequest, watchDecoding, withMediaSections,
} from './lib/attack.mjs';
import { rtcSocket } from './lib/room.mjs';

// Freed memory sits in ASan's quarantine (256 MB by default), which would hide whether
// the server's own memory is bounded; keep it small for the server started here.
const SERVER_ENV = { ASAN_OPTIONS: [process.env.ASAN_OPTIONS, 'quarantine_size_mb=16'].filter(Boolean).join(':') };

const SDP = { 'Content-Type': 'application/sdp' };

describe('hostile input with a live session alongside', { timeout: 240000 }, () => {
  let server;
  let browser;
  let publisher;
  let viewer;
  let offer; // a real sendonly offer from Chromium
  let baseline; // server /proc usage once the victim is up
  let victimPort; // the UDP port of the worker the victim's sessions are on
  let asan;
  const mb = (kb) => Math.round(kb / 1024);

  before(async () => {
    server = await startServer({
      logLevel: 'info',
      extraArgs: ['--http-idle-timeout', '5', '--limits-handshake-timeout', '5'],
      env: SERVER_ENV,
    });
    browser = await launchBrowser();
    await withServerLog(server, async () => {
      publisher = await openPublisher(browser.context, server.baseUrl, 'victim');
      viewer = await openViewer(browser.context, server.baseUrl, 'victim');
      await waitForDecoding(viewer, { minFrames: 30, timeoutMs: 20000 });
      offer = await makeOffer(publisher);
      // Attacks aim at the media port of the victim's worker, where its sessions live.
      const stats = await apiJson(server.baseUrl, '/api/stats');
      const worker = victimSession(stats, 'publisher').worker;
      victimPort = stats.workers.find((w) => w.worker === worker).port;
    });
    asan = isAsanProcess(server.pid);
    baseline = procUsage(server.pid);
  });

  after(async () => {
    try {
      await publisher?.close().catch(() => {});
      await viewer?.close().catch(() => {});
      await browser?.close();
    } finally {
      await server?.stop();
    }
  });

  /** Run attack() while watching the viewer; then require it kept decoding throughout. */
  async function underAttack(attack) {
    return withServerLog(server, async () => {
      const watch = watchDecoding(viewer);
      let result;
      let seen;
      try {
        result = await attack();
        await sleep(1500); // and a moment after
      } finally {
        seen = await watch.stop(); // an attack that threw is reported as itself
      }
      assert.equal(seen.lastState, 'connected', `viewer state ${seen.lastState}`);
      assert.ok(seen.gained > 20, `viewer decoded only ${seen.gained} frames during the attack`);
      assert.ok(seen.maxStallMs < 3000, `viewer stalled ${seen.maxStallMs} ms during the attack`);
      const stats = await apiJson(server.baseUrl, '/api/stats');
      const live = stats.session_list.filter((s) => /^wh[ie]p\/victim$/.test(s.owner) && s.state === 'connected');
      assert.equal(live.length, 2, `victim sessions: ${JSON.stringify(stats.session_list)}`);
      const use = procUsage(server.pid);
      // Bounded: far below what the attack sent, whatever the build.
      const slack = asan ? 64 * 1024 : 32 * 1024;
      assert.ok(use.rssKb < baseline.rssKb + slack,
        `RSS grew from ${mb(baseline.rssKb)} MB to ${mb(use.rssKb)} MB (asan=${asan})`);
      return result;
    });
  }

  const victimSession = (stats, role) =>
    stats.session_list.find((s) => /^wh[ie]p\/victim$/.test(s.owner) && s.role === role);

  test('a 1 MB SDP POST is refused with 413 before its body is read', () => underAttack(async () => {
    const body = Buffer.alloc(1 << 20, 'a=x\r\n');
    const head = `POST /whip/big HTTP/1.1\r\nHost: x\r\nContent-Type: application/sdp\r\nContent-Length: ${body.length}\r\n\r\n`;
    const res = await headThenBody(server.httpPort, { localAddress: '127.0.0.2', head, body });
    assert.equal(res.status, 413, res.text);
    assert.match(res.text, /"error":"payload_too_large"/);
    assert.ok(res.bodyBytesSent < body.length, `the server read all ${res.bodyBytesSent} bytes`);
    // Chunked, so no Content-Length to refuse on: 411.
    const chunked = await headThenBody(server.httpPort, {
      localAddress: '127.0.0.2',
      head: 'POST /whip/big HTTP/1.1\r\nHost: x\r\nContent-Type: application/sdp\r\nTransfer-Encoding: chunked\r\n\r\n',
      body: Buffer.from(`100000\r\n${'a'.repeat(1 << 20)}\r\n0\r\n\r\n`),
    });
    assert.equal(chunked.status, 411, chunked.text);
  }));

  test('an SDP with 1,000 m= lines gets 400, and one over limits.max_sdp_media too', () => underAttack(async () => {
    const huge = withMediaSections(offer, 1000, { tiny: true });
    assert.ok(huge.length < 128 * 1024, `${huge.length} bytes: under http.max_body, so the parser sees it`);
    const res = await rawRequest(server.httpPort, { localAddress: '127.0.0.2', method: 'POST', path: '/whip/mlines', headers: SDP, body: huge });
    assert.equal(res.status, 400, res.text);
    assert.match(res.json.detail, /more than 64 (m= lines|mids in a BUNDLE group)/); // SDP_MAX_MEDIA
    const ten = await rawRequest(server.httpPort, { localAddress: '127.0.0.2', method: 'POST', path: '/whip/mlines', headers: SDP, body: withMediaSections(offer, 10) });
    assert.equal(ten.status, 400, ten.text);
    assert.equal(ten.json.error, 'too many media sections');
    assert.match(ten.json.detail, /limits\.max_sdp_media/);
    const stats = await apiJson(server.baseUrl, '/api/stats');
    assert.equal(stats.sessions, 2);
  }));

  test('a malformed a=fingerprint or a=ice-ufrag gets 400 (WHIP, WHEP) or sdp_invalid (/rtc) with the reason, and is logged', () => underAttack(async () => {
    // Parse errors whatever the endpoint; the hash is refused by negotiation, which first
    // finds that WHEP cannot take this sendonly offer, so it is tried on WHIP only.
    const both = ['/whip/badfp', '/whep/victim'];
    const bad = [
      [(sdp) => sdp.replace(/a=fingerprint:sha-256 [0-9A-Fa-f:]+/g, 'a=fingerprint:sha-256 AA:BB'), /sha-256 needs 32 bytes, got 2/, both],
      [(sdp) => sdp.replace(/a=fingerprint:sha-256 /g, 'a=fingerprint:sha-224 '), /hash function 'sha-224' is not supported/, ['/whip/badfp']],
      [(sdp) => sdp.replace(/a=fingerprint:sha-256 ([0-9A-Fa-f:]+)[0-9A-Fa-f]{2}/g, 'a=fingerprint:sha-256 $1ZZ'), /byte 32 is not two hex digits/, both],
      [(sdp) => sdp.replace(/a=ice-ufrag:\S+/g, 'a=ice-ufrag:u:f1'), /bad a=ice-ufrag: character 2/, both],
    ];
    for (const [mangle, reason, paths] of bad) {
      for (const path of paths) {
        const res = await rawRequest(server.httpPort, { localAddress: '127.0.0.2', method: 'POST', path, headers: SDP, body: mangle(offer) });
        assert.equal(res.status, 400, `${path}: ${res.text}`);
        assert.equal(res.json.error, 'malformed SDP offer');
        assert.match(res.json.detail, reason);
      }
    }
    assert.match(server.logTail(400), /POST \/whip\/badfp from 127\.0\.0\.2: offer refused: line \d+: bad a=fingerprint: sha-256 needs 32 bytes, got 2/);
    const rtc = await rtcSocket(server.baseUrl);
    rtc.send({ type: 'join', id: 1, room: 'badfp', identity: 'mangler' });
    await rtc.next((m) => m.type === 'joined');
    rtc.send({ type: 'publish', id: 2, sdp: bad[0][0](offer), tracks: [{ mid: '0', source: 'camera' }] });
    const error = await rtc.next((m) => m.type === 'error' && m.id === 2);
    assert.equal(error.code, 'sdp_invalid', JSON.stringify(error));
    assert.match(error.message, /sha-256 needs 32 bytes, got 2/);
    await waitFor(() => server.logTail(400), (log) => /127\.0\.0\.1: room badfp: \S+: sdp_invalid: line \d+: bad a=fingerprint/.test(log),
      3000, { what: 'the refused room offer in the log' });
    rtc.close();
    const stats = await apiJson(server.baseUrl, '/api/stats');
    assert.equal(stats.sessions, 2);
  }));

  test('an m= section offered for a track of the other kind is refused naming the mid and the track, and the room goes on', () => underAttack(async () => {
    const join = async (identity) => {
      const ws = await rtcSocket(server.baseUrl);
      ws.send({ type: 'join', id: 1, room: 'kinds', identity });
      await ws.next((m) => m.type === 'joined');
      return ws;
    };
    const reply = (ws, id) => ws.next((m) => m.id === id && m.type !== 'pong');
    const pub = await join('publisher');
    const member = await join('member');
    // Chromium's offer has audio as mid 0 and video as mid 1.
    pub.send({ type: 'publish', id: 2, sdp: offer, tracks: [{ mid: '0', source: 'microphone' }] });
    const published = await reply(pub, 2);
    assert.equal(published.type, 'publish_answer', JSON.stringify(published));
    const audio = published.tracks[0];
    assert.equal(audio.kind, 'audio');
    await member.next((m) => m.type === 'track_published' && m.track.id === audio.id);

    // A renegotiation where mid 0 is video: the mid keeps its audio track, so it cannot be.
    const swapped = offer.replace(/a=mid:0\r\n/g, 'a=mid:x\r\n').replace(/a=mid:1\r\n/g, 'a=mid:0\r\n')
      .replace(/a=mid:x\r\n/g, 'a=mid:1\r\n');
    pub.send({ type: 'publish', id: 3, sdp: swapped, tracks: [{ mid: '0', source: 'microphone' }] });
    const refused = await reply(pub, 3);
    assert.equal(refused.type, 'error', JSON.stringify(refused));
    assert.equal(refused.code, 'bad_request', JSON.stringify(refused));
    assert.equal(refused.message, `m= section mid 0 is video but track ${audio.id} is audio`);
    await waitFor(() => server.logTail(400), (log) => log.includes(`room kinds: ${audio.participant}: bad_request: m= section mid 0`),
      3000, { what: 'the refused renegotiation in the log' });

    // The room goes on: the same publish again keeps its track, and nobody saw it go.
    pub.send({ type: 'publish', id: 4, sdp: offer, tracks: [{ mid: '0', source: 'microphone' }] });
    const again = await reply(pub, 4);
    assert.equal(again.type, 'publish_answer', JSON.stringify(again));
    assert.deepEqual(again.tracks.map((t) => t.id), [audio.id]);
    // A subscriber's video m= for the audio track: answered inactive, saying why (its
    // publisher is live); its audio m= receives the track.
    const recv = await makeOffer(publisher, { direction: 'recvonly' });
    member.send({ type: 'subscribe', id: 5, sdp: recv, tracks: { 0: audio.id, 1: audio.id } });
    const subscribed = await reply(member, 5);
    assert.equal(subscribed.type, 'subscribe_answer', JSON.stringify(subscribed));
    assert.deepEqual(subscribed.tracks, { 0: audio.id, 1: null });
    assert.equal(subscribed.errors?.['1']?.code, 'no_common_codec', JSON.stringify(subscribed));
    assert.match(subscribed.errors['1'].message, /^video: the publisher sends opus/);
    assert.ok(!member.messages.some((m) => m.type === 'track_unpublished'), JSON.stringify(member.messages));
    for (const ws of [pub, member]) {
      ws.send({ type: 'leave' });
      await ws.next((m) => m.type === 'left');
      ws.close();
    }
  }));

  test('an offer with a wrong DTLS fingerprint: the handshake fails and only that session closes', () => underAttack(async () => {
    const page = await browser.context.newPage();
    try {
      await page.goto(`${server.baseUrl}/`, { timeout: 10000, waitUntil: 'domcontentloaded' });
      const out = await page.evaluate(async () => {
        const pc = new RTCPeerConnection();
        try {
          pc.addTransceiver('audio', { direction: 'sendonly' });
          pc.addTransceiver('video', { direction: 'sendonly' });
          await pc.setLocalDescription(await pc.createOffer());
          await new Promise((r) => {
            if (pc.iceGatheringState === 'complete') r();
            pc.onicegatheringstatechange = () => pc.iceGatheringState === 'complete' && r();
            setTimeout(r, 2000);
          });
          // Every byte of the certificate digest inverted: not this browser's certificate.
          const sdp = pc.localDescription.sdp.replace(/(a=fingerprint:sha-256 )([0-9A-F:]+)/g, (m, p, fp) =>
            p + fp.split(':').map((x) => (255 - parseInt(x, 16)).toString(16).padStart(2, '0').toUpperCase()).join(':'));
          const res = await fetch('/whip/mallory', { method: 'POST', headers: { 'Content-Type': 'application/sdp' }, body: sdp });
          if (res.status !== 201) return { status: res.status };
          await pc.setRemoteDescription({ type: 'answer', sdp: await res.text() });
          const state = await new Promise((r) => {
            const t = setTimeout(() => r(pc.connectionState), 15000);
            pc.onconnectionstatechange = () => {
              if (pc.connectionState === 'failed' || pc.connectionState === 'closed') { clearTimeout(t); r(pc.connectionState); }
            };
          });
          return { status: 201, state };
        } finally {
          pc.close();
        }
      });
      assert.equal(out.status, 201);
      assert.equal(out.state, 'failed', 'the browser sees the handshake fail');
      await waitFor(() => apiJson(server.baseUrl, '/api/stats'),
        (s) => !s.session_list.some((x) => x.owner === 'whip/mallory'), 10000, { what: 'the mallory session to close' });
      assert.match(server.logTail(400), /DTLS failed/);
    } finally {
      await page.close();
    }
  }));

  test("STUN with a bad MESSAGE-INTEGRITY for the victim's ufrag gets no answer and is counted", () => underAttack(async () => {
    const serverUfrag = await publisher.evaluate(() =>
      /a=ice-ufrag:(\S+)/.exec(window.junction.publish.pc.remoteDescription.sdp)[1]);
    const checks = Array.from({ length: 200 }, () =>
      stunBindingRequest({ serverUfrag, password: 'not-the-session-password-at-all' }));
    const before = victimSession(await apiJson(server.baseUrl, '/api/stats'), 'publisher');
    const { received } = await sendFrom(victimPort, checks, { host: '127.0.0.2', listenMs: 1000 });
    assert.equal(received.length, 0, 'the server answered an unauthenticated check');
    const after = victimSession(await apiJson(server.baseUrl, '/api/stats'), 'publisher');
    assert.equal(after.counters.ice_auth_failures - before.counters.ice_auth_failures, 200);
  }));

  test('RTCP with lying lengths, plain and as garbage, from a foreign address is dropped', () => underAttack(async () => {
    const ssrc = await publisher.evaluate(() =>
      Number(/a=ssrc:(\d+)/.exec(window.junction.publish.pc.localDescription.sdp)[1]));
    const datagrams = [];
    for (let i = 0; i < 50; i++) datagrams.push(...lyingRtcp(ssrc));
    for (let i = 0; i < 200; i++) {
      const g = Buffer.alloc(8 + (i % 60) * 4);
      for (let j = 0; j < g.length; j++) g[j] = Math.floor(Math.random() * 256);
      g[0] = 0x80 | (i % 32); g[1] = 200 + (i % 7); // RTCP by RFC 7983 and RFC 5761
      datagrams.push(g);
    }
    const before = await apiJson(server.baseUrl, '/api/stats');
    await sendFrom(victimPort, datagrams, { host: '127.0.0.3' });
    const after = await waitFor(() => apiJson(server.baseUrl, '/api/stats'),
      (s) => s.dropped.unknown_source - before.dropped.unknown_source >= datagrams.length, 5000,
      { what: 'every RTCP datagram counted as unknown_source' });
    assert.equal(after.dropped.unknown_source - before.dropped.unknown_source, datagrams.length);
  }));

  test("RTP with the victim's SSRC from a spoofed port on 127.0.0.1 is dropped", () => underAttack(async () => {
    const ssrcs = await publisher.evaluate(() =>
      [...window.junction.publish.pc.localDescription.sdp.matchAll(/a=ssrc:(\d+) /g)].map((m) => Number(m[1])));
    const before = await apiJson(server.baseUrl, '/api/stats');
    const packets = [];
    for (let i = 0; i < 600; i++) packets.push(rtpPacket({ ssrc: ssrcs[i % ssrcs.length], pt: 96 + (i % 3), seq: i, ts: i * 3000 }));
    await sendFrom(victimPort, packets, { host: '127.0.0.1' });
    const after = await waitFor(() => apiJson(server.baseUrl, '/api/stats'),
      (s) => s.dropped.unknown_source - before.dropped.unknown_source >= packets.length, 5000,
      { what: 'every spoofed RTP packet counted as unknown_source' });
    assert.equal(after.dropped.unknown_source - before.dropped.unknown_source, packets.length);
    const pubBefore = victimSession(before, 'publisher');
    const pubAfter = victimSession(after, 'publisher');
    assert.equal(pubAfter.counters.srtp_errors, pubBefore.counters.srtp_errors, 'nothing reached the session');
  }));

  test('10,000 WHIP POSTs in a row from one IP get 429s while another client is served', () => underAttack(async () => {
    const counts = {};
    let served = 0;
    let flooding = true;
    const other = (async () => { // the other client, at 127.0.0.1, all along
      while (flooding) {
        const res = await rawRequest(server.httpPort, { path: '/api/health' });
        assert.equal(res.status, 200, `another client was refused: ${res.status ?? res.error}`);
        served++;
        await sleep(200);
      }
    })();
    const lanes = 8;
    const t0 = Date.now();
    await Promise.all(Array.from({ length: lanes }, async (_, lane) => {
      for (let i = lane; i < 10000; i += lanes) {
        const res = await rawRequest(server.httpPort, { localAddress: '127.0.0.2', method: 'POST', path: `/whip/flood${i}`, headers: SDP, body: offer });
        const key = res.status ?? `error ${res.error?.code}`;
        counts[key] = (counts[key] ?? 0) + 1;
      }
    }));
    const seconds = (Date.now() - t0) / 1000;
    flooding = false;
    await other;
    assert.ok(served >= 3, `the other client was served ${served} times`);
    // Through the rate limit (burst 40 + 20/s) come sessions up to limits.max_half_open_per_ip
    // (10, renewed as they time out after 5 s); everything else is a 429.
    const created = counts[201] ?? 0;
    assert.ok(created <= 10 * (1 + Math.ceil(seconds / 5)), `${JSON.stringify(counts)} in ${seconds} s`);
    assert.ok(counts[429] >= 10000 - (40 + 20 * Math.ceil(seconds)), `${JSON.stringify(counts)} in ${seconds} s`);
    assert.equal(Object.keys(counts).filter((k) => k !== '201' && k !== '429').length, 0, JSON.stringify(counts));
    assert.match(server.logTail(2000), /client 127\.0\.0\.2 is over limits\.http_rate/);
    // A viewer from the browser's address is still welcome.
    const whep = await rawRequest(server.httpPort, { method: 'POST', path: '/whep/victim', headers: SDP, body: await makeOffer(viewer, { direction: 'recvonly' }) });
    assert.equal(whep.status, 201, whep.text);
    assert.equal((await rawRequest(server.httpPort, { method: 'DELETE', path: whep.headers.location })).status, 200);
    // The flood's half-open sessions expire with limits.handshake_timeout (5 s here).
    const stats = await waitFor(() => apiJson(server.baseUrl, '/api/stats'), (s) => s.sessions === 2, 12000,
      { what: "the flood's sessions to time out" });
    assert.ok(stats.http.rate_limited >= 9000, JSON.stringify(stats.http));
    assert.equal(stats.limits.half_open, 0);
  }));

  test('slow-loris clients are cut within http.idle_timeout while others are served', () => underAttack(async () => {
    const fdsBefore = procUsage(server.pid).fds;
    const t0 = Date.now();
    // 100 connections: past limits.http_connections_per_ip (64) they are closed at once.
    const loris = slowLoris(server.httpPort, { localAddress: '127.0.0.4', count: 100, lineEveryMs: 300, withBody: true });
    await sleep(500);
    for (let i = 0; i < 5; i++) {
      const t = Date.now();
      const res = await rawRequest(server.httpPort, { path: '/api/health' });
      assert.equal(res.status, 200);
      assert.ok(Date.now() - t < 1000, `GET /api/health took ${Date.now() - t} ms`);
      await sleep(400);
    }
    const { closed, lastClosedMs } = await loris;
    assert.equal(closed, 100);
    assert.match(server.logTail(400), /client 127\.0\.0\.4 has 64 connections open \(limit 64\)/);
    assert.ok(lastClosedMs < 5000 + 3000, `the last slow client was cut after ${lastClosedMs} ms`);
    assert.ok(Date.now() - t0 < 12000);
    await waitFor(async () => procUsage(server.pid).fds, (n) => n <= fdsBefore + 2, 3000,
      { what: 'the server to close its slow-loris descriptors' });
  }));

  test('a /rtc WebSocket message flood is rate limited, an oversized message closes its socket, and a room member is unaffected', () => underAttack(async () => {
    const member = await rtcSocket(server.baseUrl);
    member.send({ type: 'join', id: 1, room: 'calm', identity: 'member' });
    await member.next((m) => m.type === 'joined');
    const flooder = await rtcSocket(server.baseUrl);
    flooder.send({ type: 'join', id: 1, room: 'calm', identity: 'flooder' });
    await flooder.next((m) => m.type === 'joined');
    // 5,000 pings at once: far over rooms.max_messages_per_second (50, bursts of 100).
    for (let i = 0; i < 5000; i++) flooder.send({ type: 'ping', id: i });
    await flooder.next((m) => m.type === 'error' && m.code === 'rate_limited');
    await sleep(500);
    const pongs = flooder.messages.filter((m) => m.type === 'pong').length;
    assert.ok(pongs <= 200, `${pongs} of 5000 pings were answered`);
    // The member is still served at once.
    member.send({ type: 'ping', id: 'still-there' });
    await member.next((m) => m.type === 'pong' && m.id === 'still-there', 2000);
    // One message over rooms.max_message_size (256 KiB): the socket is closed with 1009.
    flooder.send(JSON.stringify({ type: 'ping', id: 1, pad: 'x'.repeat(300 * 1024) }));
    const closed = await flooder.closedWithin(3000);
    assert.equal(closed?.code, 1009, `flooder closed with ${JSON.stringify(closed)}`);
    member.send({ type: 'leave' });
    await member.next((m) => m.type === 'left');
    member.close();
  }));

  test('after all attacks: memory and descriptors are bounded, and the server exits cleanly', async (t) => {
    await withServerLog(server, async () => {
      const use = procUsage(server.pid);
      t.diagnostic(`RSS ${mb(baseline.rssKb)} -> ${mb(use.rssKb)} MB, fds ${baseline.fds} -> ${use.fds} (asan=${asan})`);
      const slack = asan ? 64 * 1024 : 32 * 1024;
      assert.ok(use.rssKb < baseline.rssKb + slack, `RSS ${mb(baseline.rssKb)} MB -> ${mb(use.rssKb)} MB`);
      assert.ok(use.fds <= baseline.fds + 4, `fds ${baseline.fds} -> ${use.fds}`);
    });
    await publisher.close();
    await viewer.close();
    assertCleanExit(await server.stop());
  });
});
