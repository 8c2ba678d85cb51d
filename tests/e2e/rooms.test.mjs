// Conference rooms end to end: the web app (/room/{name}, web/rtc-client.js) in three headless
// Chromium pages and one headless Firefox ESR page against the server, and raw /rtc clients for
// the token and malformed-message errors.
//
// Run (after building the server):  node --test --test-concurrency=1 tests/e2e/rooms.test.mjs
// Environment: JUNCTION_BIN, CHROMIUM_BIN, FIREFOX_BIN, JUNCTION_KEEP_LOGS=1 (see harness.mjs).
//
// The browser tests share one server and build on each other (browsers are expensive on a
// small machine): four join room r1; one leaves; r2 runs beside r1; one of r1 mutes and shares
// its screen; another loses its network for 5 s, then its media alone for 10 s. Every wait is
// bounded; every page and browser is closed in after(), Firefox killed by PID if it lingers.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';

import {
  assertCleanExit, JUNCTION_BIN, launchBrowser, request, startServer, waitFor, withServerLog,
} from './lib/harness.mjs';
import {
  childProcesses, killProcessGroups, mintToken, openRoomPage, roomEvents, roomState, roomStats, rtcSocket, startNetworkLink, summarize,
  udpRedirectScript, waitForFlowingMedia,
} from './lib/room.mjs';

/** What the room app records about others (the rest is about its own connections). */
const ROOM_EVENTS = new Set(['participantjoined', 'participantleft', 'trackjoined', 'trackleft', 'trackmuted']);

/** Events of `page` after index `from` that mention participant `sid`. */
async function eventsAbout(page, sid, from = 0) {
  return (await roomEvents(page)).slice(from).filter((e) => e.sid === sid);
}

describe('rooms with Chromium and Firefox', { timeout: 150000 }, () => {
  let server;
  let chromium;
  let firefox;
  let chromiumPids = [];
  let link;
  const pages = []; // every page opened, closed in after()
  let ada, bob, cyd, dee; // r1: Chromium x3 (cyd through `link`), Firefox (dee)

  before(async () => {
    // Media on every interface (the default): Firefox nominates one pair and keeps consent
    // on another; the server must follow it rather than drop Firefox after 30 s.
    server = await startServer({ logLevel: 'info' });
    [chromium, firefox] = await Promise.all([launchBrowser('chromium'), launchBrowser('firefox')]);
    chromiumPids = childProcesses('chrom');
    link = await startNetworkLink(server);
  });

  after(async () => {
    try {
      for (const p of pages) await p.close().catch(() => {});
      await Promise.all([chromium?.close(), firefox?.close()]);
      await link?.close();
    } finally {
      // Chromium normally exits on close; whatever did not is killed by PID. (The harness
      // does the same for Firefox.)
      killProcessGroups(chromiumPids);
      await server?.stop();
    }
  });

  async function open(browser, room, name, opts = {}) {
    const page = await openRoomPage(browser.context, opts.origin ?? server.baseUrl, room, { name, ...opts });
    pages.push(page);
    return page;
  }

  test('four participants (3 Chromium, 1 Firefox) each receive the 3 others: 3 video + 3 audio streams flowing',
    async () => withServerLog(server, async () => {
      ada = await open(chromium, 'r1', 'Ada');
      bob = await open(chromium, 'r1', 'Bob');
      // Cyd reaches the server only through `link` (page, WebSocket and media), for the drop test.
      cyd = await open(chromium, 'r1', 'Cyd', {
        origin: link.origin,
        initScripts: [[udpRedirectScript, { toPort: link.udpPort }]],
      });
      dee = await open(firefox, 'r1', 'Dee');
      const joinedAt = Date.now();

      const all = [ada, bob, cyd, dee];
      await Promise.all(all.map((p) => waitForFlowingMedia(p, {
        video: 3, audio: 3, timeoutMs: 20000 - (Date.now() - joinedAt), what: p.participant.name,
      })));
      const sids = new Set(all.map((p) => p.participant.sid));
      assert.equal(sids.size, 4, 'four distinct participants');
      for (const p of all) {
        const s = await roomState(p);
        assert.deepEqual(new Set(s.participants.map((q) => q.sid)),
          new Set([...sids].filter((sid) => sid !== p.participant.sid)), `${p.participant.name} sees the other three`);
        for (const q of s.participants) {
          assert.deepEqual(q.tracks.map((t) => `${t.source}:${t.receiving}`).sort(), ['camera:true', 'microphone:true'],
            `${p.participant.name} receives ${q.name}'s camera and microphone`);
        }
        assert.deepEqual(p.problems, [], `${p.participant.name} page errors`);
      }
      const api = await request(`${server.baseUrl}/api/rooms/r1`);
      assert.equal(api.status, 200, api.text);
      assert.equal(api.json.participants.length, 4);
    }));

  test('one leaves: the other three see it go and its tracks end within 2 s; their media keeps flowing',
    async (t) => withServerLog(server, async () => {
      assert.ok(ada && bob && cyd && dee, 'needs the previous test');
      const stay = [ada, cyd, dee];
      const bobSid = bob.participant.sid;
      // Per-track frame counters of the three who stay, every 250 ms, from 1 s before the
      // leave until 3 s after it.
      const samples = new Map(stay.map((p) => [p, []]));
      let sampling = true;
      const sampler = (async () => {
        while (sampling) {
          await Promise.all(stay.map(async (p) => {
            samples.get(p).push({ at: Date.now(), tracks: summarize(await roomStats(p)).tracks });
          }));
          await sleep(250);
        }
      })();
      let leftAt;
      try {
        await sleep(1000);
        // Bob's Leave button; its page notes the time (the clock all pages share).
        await bob.evaluate(() => document.getElementById('leave-button').click());
        await waitFor(() => roomState(bob), (s) => s.state === 'closed', 5000, { what: 'Bob to leave' });
        leftAt = (await roomEvents(bob)).find((e) => e.type === 'leave').at;

        for (const p of stay) {
          const gone = await waitFor(async () => ({ events: await eventsAbout(p, bobSid), state: await roomState(p) }),
            ({ events, state }) => events.some((e) => e.type === 'participantleft')
              && events.filter((e) => e.type === 'trackleft').length === 2
              && !state.participants.some((q) => q.sid === bobSid), 2000 - (Date.now() - leftAt),
            { intervalMs: 100, what: `${p.participant.name} to see Bob and his 2 tracks leave` });
          assert.equal(gone.events.find((e) => e.type === 'participantleft').reason, 'left');
          for (const e of gone.events.filter((x) => x.type === 'participantleft' || x.type === 'trackleft')) {
            assert.ok(e.at - leftAt < 2000, `${p.participant.name}: ${e.type} ${e.at - leftAt} ms after the leave`);
          }
        }
        await sleep(Math.max(0, leftAt + 3000 - Date.now()));
      } finally {
        sampling = false;
        await sampler;
      }

      for (const p of stay) {
        // Bob's tracks are no longer received; the other two participants' are.
        const s = await waitForFlowingMedia(p, { video: 2, audio: 2, timeoutMs: 3000, what: p.participant.name });
        const rows = s.subscribe.tracks.filter((t) => t.joined);
        assert.ok(rows.every((t) => t.participant !== bobSid), `${p.participant.name} still subscribed to Bob`);
        // Every remaining video track decoded frames in each second around the change.
        const series = samples.get(p);
        const videoIds = rows.filter((t) => t.kind === 'video').map((t) => t.trackId);
        assert.equal(videoIds.length, 2);
        for (const id of videoIds) {
          const perSecond = [];
          for (let from = leftAt - 1000; from < leftAt + 3000; from += 1000) {
            const a = series.filter((x) => x.at <= from).at(-1) ?? series[0];
            const b = series.filter((x) => x.at <= from + 1000).at(-1);
            perSecond.push(b.tracks[id].framesDecoded - a.tracks[id].framesDecoded);
            assert.ok(b.tracks[id].framesDecoded > a.tracks[id].framesDecoded,
              `${p.participant.name}: ${b.tracks[id].participant}'s video ${id} decoded no frame from ${a.at - leftAt} `
              + `to ${b.at - leftAt} ms around the leave; frames by time: `
              + series.map((x) => `${x.at - leftAt}:${x.tracks[id]?.framesDecoded}`).join(' '));
          }
          t.diagnostic(`${p.participant.name} decoded ${perSecond.join(', ')} frames of ${id} in the seconds from -1 s to +3 s`);
        }
      }
      const api = await request(`${server.baseUrl}/api/rooms/r1`);
      assert.equal(api.json.participants.length, 3);
    }));

  test('two rooms at once are isolated: no participants, tracks or events cross',
    async () => withServerLog(server, async () => {
      assert.ok(ada && cyd && dee, 'needs the previous tests');
      const r1 = [ada, cyd, dee];
      const marks = await Promise.all(r1.map(async (p) => (await roomEvents(p)).length));
      const eve = await open(chromium, 'r2', 'Eve');
      const fay = await open(chromium, 'r2', 'Fay');
      const r2 = [eve, fay];
      await Promise.all(r2.map((p) => waitForFlowingMedia(p, { video: 1, audio: 1, what: p.participant.name })));

      const r1Sids = new Set(r1.map((p) => p.participant.sid));
      const r2Sids = new Set(r2.map((p) => p.participant.sid));
      for (const [own, other] of [[r1, r2Sids], [r2, r1Sids]]) {
        for (const p of own) {
          const s = await roomState(p);
          const events = await roomEvents(p);
          assert.ok(!s.participants.some((q) => other.has(q.sid)), `${p.participant.name} sees the other room`);
          assert.ok(!events.some((e) => other.has(e.sid)), `${p.participant.name} got events of the other room`);
          const st = await roomStats(p);
          assert.ok(st.subscribe.tracks.every((t) => !other.has(t.participant)), `${p.participant.name} receives the other room`);
        }
      }
      // r1 saw nothing at all while r2 came to life, and still receives its 2 + 2 streams.
      for (const [i, p] of r1.entries()) {
        const newEvents = (await roomEvents(p)).slice(marks[i]).filter((e) => ROOM_EVENTS.has(e.type));
        assert.deepEqual(newEvents, [], `${p.participant.name} events while r2 started`);
        await waitForFlowingMedia(p, { video: 2, audio: 2, timeoutMs: 5000, what: p.participant.name });
      }
      const list = await request(`${server.baseUrl}/api/rooms`);
      const counts = Object.fromEntries(list.json.rooms.map((r) => [r.name, r.participants]));
      assert.equal(counts.r1, 3);
      assert.equal(counts.r2, 2);

      // r2 is done: its pages go (their CPU is needed for the next test).
      for (const p of r2) {
        await p.evaluate(() => window.junctionRoom.leave());
        await p.close();
        pages.splice(pages.indexOf(p), 1);
      }
    }));

  test('mute and screen share: the others see the mute and receive the screen, then lose it',
    async () => withServerLog(server, async () => {
      assert.ok(ada && cyd && dee, 'needs the previous tests');
      const watchers = [cyd, dee];
      const adaSid = ada.participant.sid;
      const adaMic = (await roomState(ada)).localTracks.find((t) => t.source === 'microphone').id;
      const micBadge = (p) => p.evaluate((sid) => document.querySelector(`.tile[data-sid="${sid}"][data-kind="camera"]`)
        ?.dataset.micOff, adaSid);

      await ada.evaluate(() => document.getElementById('mic-button').click());
      for (const p of watchers) {
        await waitFor(async () => ({ state: await roomState(p), badge: await micBadge(p) }),
          ({ state, badge }) => badge === 'true'
            && state.participants.find((q) => q.sid === adaSid)?.tracks.find((t) => t.id === adaMic)?.muted === true,
          2000, { intervalMs: 100, what: `${p.participant.name} to see Ada's microphone muted` });
      }
      await ada.evaluate(() => document.getElementById('mic-button').click());
      for (const p of watchers) {
        await waitFor(() => micBadge(p), (badge) => badge === 'false', 2000,
          { intervalMs: 100, what: `${p.participant.name} to see Ada's microphone unmuted` });
      }

      // Headless Chromium shares a fake screen, with sound, without asking.
      await ada.evaluate(() => document.getElementById('screen-button').click());
      for (const p of watchers) {
        await waitForFlowingMedia(p, { video: 3, audio: 3, timeoutMs: 10000, what: `${p.participant.name} with Ada's screen` });
        const sources = (await roomState(p)).participants.find((q) => q.sid === adaSid).tracks.map((t) => t.source);
        assert.deepEqual(sources.sort(), ['camera', 'microphone', 'screen', 'screen_audio']);
      }
      await ada.evaluate(() => document.getElementById('screen-button').click());
      for (const p of watchers) {
        await waitForFlowingMedia(p, { video: 2, audio: 2, timeoutMs: 5000, what: `${p.participant.name} after the screen share` });
        const tiles = (await roomState(p)).tiles;
        assert.ok(!tiles.includes(`${adaSid}:screen`), `${p.participant.name} still shows the screen tile`);
      }
    }));

  // Method: Cyd's page, its WebSocket and its media all go through `link` (TCP and UDP
  // proxies in this process). For 5 s the link resets Cyd's TCP connections and refuses new
  // ones (as when a network interface goes away, the socket dies and reconnecting fails), and
  // drops every datagram both ways; then it comes back with a new UDP source port towards the
  // server (the network changed). Cyd must resume its session (same sid) and get its media
  // back both ways (restarting ICE where it did not recover), and the others must never see
  // it leave.
  test('a 5 s network drop then resume keeps the identity and the subscriptions; nobody sees it leave',
    async () => withServerLog(server, async () => {
      assert.ok(ada && cyd && dee, 'needs the previous tests');
      const others = [ada, dee];
      const cydSid = cyd.participant.sid;
      const before = await roomState(cyd);
      const subscribedBefore = summarize(await roomStats(cyd)).tracks;
      const cydTracks = before.localTracks.map((t) => t.id);
      const marks = await Promise.all([cyd, ...others].map(async (p) => (await roomEvents(p)).length));

      link.drop();
      // Halfway: the server holds Cyd as disconnected; the others still list it.
      await sleep(2500);
      for (const p of others) {
        assert.ok((await roomState(p)).participants.some((q) => q.sid === cydSid), `${p.participant.name} lost Cyd`);
      }
      const during = await request(`${server.baseUrl}/api/rooms/r1`);
      assert.equal(during.json.participants.find((q) => q.sid === cydSid)?.state, 'disconnected', during.text);
      const cydDuring = await roomState(cyd);
      assert.equal(cydDuring.state, 'reconnecting', 'Cyd noticed the drop');
      await sleep(2500);
      const restoredAt = Date.now();
      link.restore({ rebind: true });

      const after = await waitFor(() => roomState(cyd), (s) => s.state === 'joined', 10000,
        { what: 'Cyd to resume' });
      assert.equal(after.sid, cydSid, 'same sid after the resume');
      const cydEvents = (await roomEvents(cyd)).slice(marks[0]);
      assert.ok(cydEvents.some((e) => e.type === 'reconnected'), JSON.stringify(cydEvents));
      assert.ok(!cydEvents.some((e) => e.type === 'participantleft' || e.type === 'closed'), JSON.stringify(cydEvents));

      // Cyd receives the same two participants' tracks again, on the same subscriptions.
      const cydMedia = await waitForFlowingMedia(cyd, { video: 2, audio: 2, timeoutMs: 15000, what: 'Cyd after the drop' });
      assert.deepEqual(Object.keys(summarize(cydMedia).tracks).sort(), Object.keys(subscribedBefore).sort());
      assert.deepEqual((await roomState(cyd)).localTracks.map((t) => t.id), cydTracks, 'Cyd publishes the same tracks');

      // The others: Cyd never left, and its video decodes again.
      for (const [i, p] of others.entries()) {
        const seen = await eventsAbout(p, cydSid, marks[i + 1]);
        assert.deepEqual(seen.filter((e) => e.type !== 'trackmuted'), [], `${p.participant.name} saw Cyd come and go`);
        const cydVideo = cydTracks.find((id) => before.localTracks.find((t) => t.id === id)?.kind === 'video');
        const atRestore = summarize(await roomStats(p)).tracks[cydVideo].framesDecoded;
        await waitFor(async () => summarize(await roomStats(p)).tracks[cydVideo]?.framesDecoded ?? 0,
          (frames) => frames > atRestore + 15, 15000 - (Date.now() - restoredAt),
          { what: `${p.participant.name} to decode Cyd's video again` });
      }
      const api = await request(`${server.baseUrl}/api/rooms/r1`);
      assert.equal(api.json.participants.find((q) => q.sid === cydSid)?.state, 'active');
    }));

  // Only Cyd's datagrams are lost, for 10 s; its WebSocket stays up. Its browser sees ICE
  // disconnected (Chromium: after about 5 s without answers), the client restarts ICE after
  // 2 s of that (again, with backoff, while the outage lasts), and media comes back from a new
  // source port without any rejoin.
  test('a 10 s media outage with signalling up: ICE restarts bring the media back',
    async () => withServerLog(server, async () => {
      assert.ok(ada && cyd && dee, 'needs the previous tests');
      const others = [ada, dee];
      const cydSid = cyd.participant.sid;
      const cydVideo = (await roomState(cyd)).localTracks.find((t) => t.kind === 'video').id;
      const marks = await Promise.all([cyd, ...others].map(async (p) => (await roomEvents(p)).length));

      link.drop({ tcp: false });
      await sleep(10000);
      const restoredAt = Date.now();
      link.restore({ rebind: true });

      await waitForFlowingMedia(cyd, { video: 2, audio: 2, timeoutMs: 15000, what: 'Cyd after the media outage' });
      const cydEvents = (await roomEvents(cyd)).slice(marks[0]);
      for (const connection of ['publish', 'subscribe']) {
        const seen = cydEvents.filter((e) => e.connection === connection);
        assert.ok(seen.some((e) => e.type === 'mediastate' && e.state === 'disconnected')
          && seen.some((e) => e.type === 'mediarestart'), `ICE restart of ${connection}: ${JSON.stringify(cydEvents)}`);
      }
      assert.ok(!cydEvents.some((e) => ['reconnecting', 'closed', 'error', 'participantleft'].includes(e.type)),
        JSON.stringify(cydEvents));
      for (const [i, p] of others.entries()) {
        assert.deepEqual(await eventsAbout(p, cydSid, marks[i + 1]), [], `${p.participant.name} saw Cyd change`);
        const atRestore = summarize(await roomStats(p)).tracks[cydVideo].framesDecoded;
        await waitFor(async () => summarize(await roomStats(p)).tracks[cydVideo]?.framesDecoded ?? 0,
          (frames) => frames > atRestore + 15, 15000 - (Date.now() - restoredAt),
          { what: `${p.participant.name} to decode Cyd's video again` });
      }
    }));

  test('the server shuts down cleanly (exit 0, no sanitizer report)', async () => {
    for (const p of pages.splice(0)) await p.close().catch(() => {});
    assertCleanExit(await server.stop());
  });
});

describe('room access tokens and malformed messages (raw /rtc clients)', { timeout: 60000 }, () => {
  const key = 'APIe2e';
  const secret = 'e2e-secret-0123456789abcdef0123456789abcdef';
  let server;
  const sockets = [];
  let alice; // a valid participant of room "secure" who must see none of the failures

  before(async () => {
    server = await startServer({ logLevel: 'info', extraArgs: ['--auth-api-key', key, '--auth-api-secret', secret] });
  });

  after(async () => {
    for (const s of sockets) s.close();
    await server?.stop();
  });

  async function connect() {
    const s = await rtcSocket(server.baseUrl);
    sockets.push(s);
    return s;
  }

  /** The room as the admin API sees it: sorted identities. */
  async function identitiesIn(room) {
    const admin = mintToken({ key, secret, room, identity: 'admin', claims: { grants: { admin: true } } });
    const res = await request(`${server.baseUrl}/api/rooms/${room}`, { headers: { Authorization: `Bearer ${admin}` } });
    assert.equal(res.status, 200, res.text);
    return res.json.participants.map((p) => p.identity).sort();
  }

  /** Messages alice got that say something about the room (pong, quality and errors aside). */
  const roomNews = () => alice.messages.slice(1)
    .filter((m) => !['pong', 'connection_quality', 'error', 'ack'].includes(m.type));

  test('a token minted by `junction token` joins', async () => withServerLog(server, async () => {
    const { stdout } = await promisify(execFile)(JUNCTION_BIN, ['token', '--api-key', key, '--api-secret', secret,
      '--room', 'secure', '--identity', 'alice', '--name', 'Alice', '--publish', '--subscribe', '--ttl', '600'],
    { timeout: 10000 });
    alice = await connect();
    alice.send({ type: 'join', room: 'secure', token: stdout.trim(), id: 1 });
    const joined = await alice.next((m) => m.id === 1);
    assert.equal(joined.type, 'joined', JSON.stringify(joined));
    assert.equal(joined.participant.identity, 'alice');
    assert.equal(joined.participant.name, 'Alice');
    assert.deepEqual(await identitiesIn('secure'), ['alice']);
  }));

  const now = () => Math.floor(Date.now() / 1000);
  const base = { key, secret, room: 'secure', identity: 'mallory' };
  const badJoins = [
    ['missing token', 'token_missing', () => undefined],
    ['not a JWT', 'token_malformed', () => 'not-a-token'],
    ['tampered payload', 'token_bad_signature', () => {
      const [h, , sig] = mintToken(base).split('.');
      const forged = Buffer.from(JSON.stringify({ iss: key, sub: 'mallory', room: 'secure', exp: now() + 600,
        grants: { publish: true, subscribe: true, admin: true } })).toString('base64url');
      return `${h}.${forged}.${sig}`;
    }],
    ['wrong secret', 'token_bad_signature', () => mintToken({ ...base, secret: 'not-the-secret-0123456789abcdef0123' })],
    ['unknown API key', 'token_unknown_key', () => mintToken({ ...base, key: 'APIother' })],
    ['alg none', 'token_wrong_algorithm', () => mintToken({ ...base, header: { alg: 'none', typ: 'JWT' } })],
    ['expired', 'token_expired', () => mintToken({ ...base, claims: { iat: now() - 7200, nbf: now() - 7200, exp: now() - 3600 } })],
    ['not yet valid', 'token_not_yet_valid', () => mintToken({ ...base, claims: { nbf: now() + 3600, exp: now() + 7200 } })],
    ['another room', 'token_wrong_room', () => mintToken({ ...base, room: 'elsewhere' })],
    ['too large', 'token_too_large', () => mintToken({ ...base, claims: { pad: 'x'.repeat(5000) } })],
  ];
  for (const [what, code, token] of badJoins) {
    test(`join with ${what}: error ${code}, connection closed (1008), room unchanged`, async () => withServerLog(server, async () => {
      assert.ok(alice, 'needs the first test');
      const s = await connect();
      const t = token();
      s.send({ type: 'join', room: 'secure', identity: 'mallory', id: 'j1', ...(t === undefined ? {} : { token: t }) });
      const err = await s.next((m) => m.type === 'error' || m.type === 'joined');
      assert.equal(err.type, 'error', JSON.stringify(err));
      assert.equal(err.code, code, JSON.stringify(err));
      assert.equal(err.id, 'j1');
      assert.equal(typeof err.message, 'string');
      const closed = await s.closedWithin(3000);
      assert.equal(closed?.code, 1008, `close: ${JSON.stringify(closed)}`);
      assert.deepEqual(await identitiesIn('secure'), ['alice']);
      assert.deepEqual(roomNews(), []);
    }));
  }

  test('malformed and invalid messages get their documented error; the connection and the room stay',
    async () => withServerLog(server, async () => {
      assert.ok(alice, 'needs the first test');
      const cases = [
        ['{"type": "ping", "id": 7', 'bad_message'],                 // truncated JSON
        ['not json at all', 'bad_message'],
        ['[1, 2, 3]', 'bad_message'],                                 // not an object
        ['{"id": 8}', 'bad_message'],                                 // no type
        ['{"type": "dance", "id": 9}', 'unknown_type'],
        ['{"type": "mute", "id": 10}', 'bad_request'],                // fields missing
        ['{"type": "mute", "id": 11, "track": 5, "muted": true}', 'bad_request'], // wrong type
        ['{"type": "mute", "id": 12, "track": "TR_nope", "muted": true}', 'unknown_track'],
        ['{"type": "join", "id": 13, "room": "secure"}', 'already_joined'],
      ];
      for (const [text, code] of cases) {
        const from = alice.messages.length;
        alice.send(text);
        const err = await alice.next((m) => m.type === 'error' && alice.messages.indexOf(m) >= from);
        assert.equal(err.code, code, `${text} -> ${JSON.stringify(err)}`);
        const idMatch = /"id": (\d+)/.exec(text);
        if (idMatch && code !== 'bad_message') assert.equal(err.id, Number(idMatch[1]), `${text}: id echoed`);
      }
      // Still connected and joined.
      alice.send({ type: 'ping', id: 'still-here' });
      assert.equal((await alice.next((m) => m.id === 'still-here')).type, 'pong');
      assert.equal(await alice.closedWithin(0), null);
      assert.deepEqual(await identitiesIn('secure'), ['alice']);
      assert.deepEqual(roomNews(), []);

      // Before join: not_joined, and the connection stays for a join.
      const early = await connect();
      early.send({ type: 'publish', id: 1, sdp: 'v=0', tracks: [] });
      assert.equal((await early.next((m) => m.id === 1)).code, 'not_joined');
      early.send('{');
      assert.equal((await early.next((m) => m.type === 'error' && m.code === 'bad_message')).code, 'bad_message');
      early.send({ type: 'ping', id: 2 });
      assert.equal((await early.next((m) => m.id === 2)).code, 'not_joined');
      assert.equal(await early.closedWithin(300), null, 'the connection stays open');
      assert.deepEqual(await identitiesIn('secure'), ['alice']);
    }));

  test('the admin API: tokens checked, a participant removed, a room closed', async () => withServerLog(server, async () => {
    const admin = mintToken({ key, secret, room: 'ops', identity: 'admin', claims: { grants: { admin: true } } });
    const user = mintToken({ key, secret, room: 'ops', identity: 'user' });
    const auth = (t) => ({ headers: { Authorization: `Bearer ${t}` } });
    assert.equal((await request(`${server.baseUrl}/api/rooms`)).status, 401);
    assert.equal((await request(`${server.baseUrl}/api/rooms/ops`, auth(user))).status, 403);
    assert.equal((await request(`${server.baseUrl}/api/rooms`, auth(admin))).status, 403, 'a room admin is not a server admin');
    const [ann, ben] = [await connect(), await connect()];
    ann.send({ type: 'join', id: 1, room: 'ops', token: mintToken({ key, secret, room: 'ops', identity: 'ann' }) });
    ben.send({ type: 'join', id: 1, room: 'ops', token: mintToken({ key, secret, room: 'ops', identity: 'ben' }) });
    await ann.next((m) => m.type === 'joined');
    await ben.next((m) => m.type === 'joined');
    assert.deepEqual(await identitiesIn('ops'), ['ann', 'ben']);
    const mute = await request(`${server.baseUrl}/api/rooms/ops/tracks/TR_none/mute`,
      { method: 'POST', body: '{"muted":true}', ...auth(admin) });
    assert.equal(mute.status, 404, mute.text);
    const removed = await request(`${server.baseUrl}/api/rooms/ops/participants/ben`, { method: 'DELETE', ...auth(admin) });
    assert.equal(removed.status, 204, removed.text);
    assert.equal((await ben.next((m) => m.type === 'closed')).reason, 'removed');
    const left = await ann.next((m) => m.type === 'participant_left');
    assert.equal(left.identity, 'ben');
    assert.equal(left.reason, 'removed');
    assert.deepEqual(await identitiesIn('ops'), ['ann']);
    assert.equal((await request(`${server.baseUrl}/api/rooms/ops`, { method: 'DELETE', ...auth(admin) })).status, 204);
    assert.equal((await ann.next((m) => m.type === 'closed')).reason, 'room_closed');
    assert.equal((await request(`${server.baseUrl}/api/rooms/ops`, auth(admin))).status, 404);
  }));

  test('the server shuts down cleanly (exit 0, no sanitizer report)', async () => {
    for (const s of sockets.splice(0)) s.close();
    assertCleanExit(await server.stop());
  });
});
