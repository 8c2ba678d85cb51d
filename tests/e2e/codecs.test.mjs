// A viewer without the publisher's codec is told, not left with a black picture: Chromium's
// offers restricted with RTCRtpTransceiver.setCodecPreferences (a VP8-only publisher, a
// VP9-only viewer) over WHIP/WHEP and /rtc.
//   - WHEP, nothing receivable: 406 with a JSON error naming both sides' codecs.
//   - WHEP, audio receivable but not video: 201, the answer rejects the video m= (port 0),
//     and Chromium takes that answer.
//   - WHEP before the publisher: not checked (201).
//   - /rtc: the subscribe_answer maps the video mid to null and says why in `errors`.
//   - the room web app: the tile of a participant whose video it cannot decode says so.
//   - the room web app, VP8 only, watching a publisher that renegotiates its video to VP9:
//     track_error with both codec lists and the tile's notice, both gone (and frames decoded
//     again) once the publisher is back on VP8; subscribing again meanwhile keeps the track.
//   - the same while the viewer's WebSocket is down: its resumed `joined` lists the error
//     (track_errors), or no longer, and the tile's notice follows.
//
// Run (after building the server):  node --test --test-concurrency=1 tests/e2e/codecs.test.mjs
// Environment: JUNCTION_BIN, CHROMIUM_BIN, JUNCTION_KEEP_LOGS=1 (see lib/harness.mjs).
//
// One server and one browser page; every wait is bounded and everything is closed in after().
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';

import { assertCleanExit, launchBrowser, request, startServer, waitFor, withServerLog } from './lib/harness.mjs';
import { openRoomPage, roomEvents, roomStats, rtcSocket, startNetworkLink, summarize, waitForFlowingMedia } from './lib/room.mjs';

/** A publisher's offer for one AV1 video m= of profile 2 (Professional), which no browser
 *  offers to receive; it need not connect, so its transport values are placeholders. */
const AV1_PROFILE_2_OFFER = [
  'v=0', 'o=- 1 2 IN IP4 127.0.0.1', 's=-', 't=0 0', 'a=group:BUNDLE 0',
  `a=fingerprint:sha-256 ${Array(32).fill('AB').join(':')}`, 'a=ice-ufrag:uf01', 'a=ice-pwd:pwd0123456789012345678',
  'm=video 9 UDP/TLS/RTP/SAVPF 45', 'c=IN IP4 0.0.0.0', 'a=mid:0', 'a=sendonly', 'a=rtcp-mux',
  'a=setup:actpass', 'a=rtpmap:45 AV1/90000', 'a=fmtp:45 profile=2', 'a=ssrc:1111 cname:pro', '',
].join('\r\n');

/**
 * In the page: an offer with an audio m= (opus, when `audio`) and a video m= limited to
 * `videoCodec` ('VP8', 'VP9'), in `direction`. The connection stays open as window.pcs[name]
 * (answerWith sets its answer). Returns {sdp, audioMid, videoMid}.
 */
function offer(page, name, { direction, audio = true, videoCodec }) {
  return page.evaluate(async ({ name, direction, audio, videoCodec }) => {
    const pc = new RTCPeerConnection();
    window.pcs = window.pcs ?? {};
    window.pcs[name] = pc;
    const a = audio ? pc.addTransceiver('audio', { direction }) : null;
    const v = pc.addTransceiver('video', { direction });
    const codecs = RTCRtpReceiver.getCapabilities('video').codecs;
    v.setCodecPreferences(codecs.filter((c) => c.mimeType === `video/${videoCodec}`));
    await pc.setLocalDescription(await pc.createOffer());
    return { sdp: pc.localDescription.sdp, audioMid: a?.mid ?? null, videoMid: v.mid };
  }, { name, direction, audio, videoCodec });
}

/** In the page: take `sdp` as the answer of window.pcs[name]; the transceivers' current directions. */
function answerWith(page, name, sdp) {
  return page.evaluate(async ({ name, sdp }) => {
    const pc = window.pcs[name];
    const transceivers = pc.getTransceivers(); // a stopped one leaves the list: keep them all
    await pc.setRemoteDescription({ type: 'answer', sdp });
    return transceivers.map((t) => ({ mid: t.mid, kind: t.receiver.track.kind, direction: t.currentDirection }));
  }, { name, sdp });
}

/** Init script for a room page: every video m= it offers to receive takes VP8 only. */
function receiveOnlyVp8() {
  const createOffer = RTCPeerConnection.prototype.createOffer;
  RTCPeerConnection.prototype.createOffer = function (...args) {
    const vp8 = RTCRtpReceiver.getCapabilities('video').codecs.filter((c) => c.mimeType === 'video/VP8');
    for (const t of this.getTransceivers()) {
      if (t.receiver.track.kind === 'video' && t.direction === 'recvonly') t.setCodecPreferences(vp8);
    }
    return createOffer.apply(this, args);
  };
}

/**
 * In the page: a connection sending the fake camera and microphone, its video limited to
 * `videoCodec`, kept as window.pcs[name]; `renegotiate` makes a new offer of the same one with
 * another codec. Returns {sdp, audioMid, videoMid}.
 */
function cameraOffer(page, name, videoCodec, { renegotiate = false } = {}) {
  return page.evaluate(async ({ name, videoCodec, renegotiate }) => {
    window.pcs = window.pcs ?? {};
    let pc = window.pcs[name];
    if (!renegotiate) {
      pc = window.pcs[name] = new RTCPeerConnection();
      const media = await navigator.mediaDevices.getUserMedia({ audio: true, video: { width: 320, height: 240 } });
      for (const track of media.getTracks()) pc.addTransceiver(track, { direction: 'sendonly' });
    }
    const [a, v] = pc.getTransceivers();
    const codecs = RTCRtpSender.getCapabilities('video').codecs;
    v.setCodecPreferences(codecs.filter((c) => c.mimeType === `video/${videoCodec}`));
    await pc.setLocalDescription(await pc.createOffer());
    return { sdp: pc.localDescription.sdp, audioMid: a.mid, videoMid: v.mid };
  }, { name, videoCodec, renegotiate });
}

/** After the publisher is back on VP8: the clearing trackerror (code null), the tile's notice
 * gone, frames decoding again and no error on the viewer's side. */
async function assertPlaysAgain(viewer, { event, video, tile, notice, framesBefore }) {
  assert.equal(event.track, video);
  assert.equal(event.code, null);
  assert.doesNotMatch(await tile.getAttribute('class'), /\brefused\b/);
  assert.equal(await notice.isVisible(), false, 'the notice is gone');
  await waitFor(async () => summarize(await roomStats(viewer)).framesDecoded, (n) => n > framesBefore + 30, 15000,
    { what: 'frames decoded again after the switch back to VP8' });
  assert.deepEqual((await roomEvents(viewer)).filter((e) => e.type === 'error' || e.type === 'trackrefused'), []);
}

function postSdp(url, sdp) {
  return request(url, { method: 'POST', headers: { 'Content-Type': 'application/sdp' }, body: sdp });
}

/** The port of the answer's first m= line of `kind`. */
function mediaPort(sdp, kind) {
  const m = new RegExp(`^m=${kind} (\\d+) `, 'm').exec(sdp);
  assert.ok(m, `no m=${kind} in\n${sdp}`);
  return Number(m[1]);
}

describe('a viewer without the publisher\'s codec', { timeout: 120000 }, () => {
  let server;
  let browser;
  let page;
  const sockets = [];

  before(async () => {
    server = await startServer();
    browser = await launchBrowser();
    page = await browser.context.newPage();
    await page.goto(`${server.baseUrl}/`, { timeout: 10000, waitUntil: 'domcontentloaded' });
  });

  after(async () => {
    try {
      for (const s of sockets) s.close();
      await page?.close().catch(() => {});
      await browser?.close();
    } finally {
      if (server) assertCleanExit(await server.stop()); // no sanitizer report with the ASan build
    }
  });

  /** A WHIP publisher of `stream` sending opus and VP8 only (its session need not connect). */
  async function publishVp8(stream) {
    const { sdp } = await offer(page, `pub-${stream}`, { direction: 'sendonly', videoCodec: 'VP8' });
    const res = await postSdp(`${server.baseUrl}/whip/${stream}`, sdp);
    assert.equal(res.status, 201, res.text);
  }

  test('WHEP: no track receivable is 406, naming both codecs', async () => withServerLog(server, async () => {
    await publishVp8('vp8-only');
    const { sdp } = await offer(page, 'view-406', { direction: 'recvonly', audio: false, videoCodec: 'VP9' });
    const res = await postSdp(`${server.baseUrl}/whep/vp8-only`, sdp);
    assert.equal(res.status, 406, res.text);
    assert.match(res.headers.get('content-type') ?? '', /application\/json/);
    assert.equal(res.json?.error, 'offer not acceptable');
    assert.match(res.json.detail, /no codec in common with the stream: video: the publisher sends VP8; this offer accepts VP9/);
  }));

  test('WHEP: audio receivable, video not: the video m= is rejected', async () => withServerLog(server, async () => {
    await publishVp8('vp8-av');
    const { sdp, videoMid } = await offer(page, 'view-partial', { direction: 'recvonly', videoCodec: 'VP9' });
    const res = await postSdp(`${server.baseUrl}/whep/vp8-av`, sdp);
    assert.equal(res.status, 201, res.text);
    assert.equal(mediaPort(res.text, 'video'), 0, 'video rejected');
    assert.notEqual(mediaPort(res.text, 'audio'), 0, 'audio accepted');
    assert.doesNotMatch(res.text, new RegExp(`^a=group:BUNDLE.* ${videoMid}\\b`, 'm'));
    const transceivers = await answerWith(page, 'view-partial', res.text);
    assert.deepEqual(transceivers.map((t) => [t.kind, t.direction]), [['audio', 'recvonly'], ['video', 'stopped']]);
    const location = res.headers.get('location');
    assert.equal((await request(`${server.baseUrl}${location}`, { method: 'DELETE' })).status, 200);
  }));

  test('WHEP before the publisher: nothing to check yet', async () => withServerLog(server, async () => {
    const { sdp } = await offer(page, 'view-first', { direction: 'recvonly', videoCodec: 'VP9' });
    const res = await postSdp(`${server.baseUrl}/whep/not-live`, sdp);
    assert.equal(res.status, 201, res.text);
    assert.notEqual(mediaPort(res.text, 'video'), 0);
  }));

  test('/rtc: the subscribe_answer says which track cannot be received, and why', async () => withServerLog(server, async () => {
    const publisher = await rtcSocket(server.baseUrl);
    const viewer = await rtcSocket(server.baseUrl);
    sockets.push(publisher, viewer);
    publisher.send({ type: 'join', id: 1, room: 'codecs', identity: 'pub' });
    await publisher.next((m) => m.type === 'joined');
    const pub = await offer(page, 'room-pub', { direction: 'sendonly', videoCodec: 'VP8' });
    publisher.send({ type: 'publish', id: 2, sdp: pub.sdp, tracks: [
      { mid: pub.audioMid, source: 'microphone' }, { mid: pub.videoMid, source: 'camera' }] });
    const published = await publisher.next((m) => m.type === 'publish_answer' || m.type === 'error');
    assert.equal(published.type, 'publish_answer', JSON.stringify(published));
    const trackOf = (mid) => published.tracks.find((t) => t.mid === mid).id;

    viewer.send({ type: 'join', id: 1, room: 'codecs', identity: 'viewer' });
    await viewer.next((m) => m.type === 'joined');
    const sub = await offer(page, 'room-sub', { direction: 'recvonly', videoCodec: 'VP9' });
    viewer.send({ type: 'subscribe', id: 2, sdp: sub.sdp, tracks: {
      [sub.audioMid]: trackOf(pub.audioMid), [sub.videoMid]: trackOf(pub.videoMid) } });
    const answer = await viewer.next((m) => m.type === 'subscribe_answer' || m.type === 'error');
    assert.equal(answer.type, 'subscribe_answer', JSON.stringify(answer));
    assert.equal(answer.tracks[sub.audioMid], trackOf(pub.audioMid));
    assert.equal(answer.tracks[sub.videoMid], null);
    assert.deepEqual(Object.keys(answer.errors), [sub.videoMid]);
    assert.equal(answer.errors[sub.videoMid].track, trackOf(pub.videoMid));
    assert.equal(answer.errors[sub.videoMid].code, 'no_common_codec');
    assert.match(answer.errors[sub.videoMid].message, /the publisher sends VP8; this offer accepts VP9/);
    assert.match(answer.sdp, /^a=inactive$/m, 'the video m= stays, inactive');
    await answerWith(page, 'room-sub', answer.sdp);
  }));

  test('the room web app says on the tile why it shows no video', async () => withServerLog(server, async () => {
    const publisher = await rtcSocket(server.baseUrl);
    sockets.push(publisher);
    publisher.send({ type: 'join', id: 1, room: 'codecs-web', identity: 'pro' });
    const joined = await publisher.next((m) => m.type === 'joined');
    publisher.send({ type: 'publish', id: 2, sdp: AV1_PROFILE_2_OFFER, tracks: [{ mid: '0', source: 'camera' }] });
    const published = await publisher.next((m) => m.type === 'publish_answer' || m.type === 'error');
    assert.equal(published.type, 'publish_answer', JSON.stringify(published));

    const viewer = await openRoomPage(browser.context, server.baseUrl, 'codecs-web', { name: 'viewer' });
    try {
      const refused = await waitFor(() => roomEvents(viewer), (events) => events.find((e) => e.type === 'trackrefused'),
        10000, { what: 'a trackrefused event' });
      const event = refused.find((e) => e.type === 'trackrefused');
      assert.equal(event.track, published.tracks[0].id);
      assert.equal(event.code, 'no_common_codec');
      const tile = viewer.locator(`.tile[data-sid="${joined.participant.sid}"]`);
      assert.match(await tile.getAttribute('class'), /\brefused\b/);
      const notice = tile.locator('.tile-notice');
      assert.ok(await notice.isVisible(), 'the notice is shown');
      assert.match(await notice.textContent(), /^This browser cannot play pro's video: the publisher sends AV1 profile 2; this offer accepts .*\.$/);
      assert.equal(await tile.locator('.cam-off').isVisible(), false, 'its camera is on, only not decodable here');
      await sleep(1000); // what the refusal sets off (a resubscribe) has had its time
      assert.deepEqual((await roomEvents(viewer)).filter((e) => e.type === 'error'), []);
      assert.deepEqual(viewer.problems, []);
    } finally {
      await viewer.close();
    }
  }));
  /**
   * `identity` joins `room` over /rtc; publish(videoCodec, renegotiate) then publishes (or
   * renegotiates) the page's camera and microphone as connection `identity`, its video
   * limited to videoCodec, and resolves with the video's track id. Returns {joined, publish}.
   */
  async function cameraPublisher(room, identity) {
    const publisher = await rtcSocket(server.baseUrl);
    sockets.push(publisher);
    publisher.send({ type: 'join', id: 1, room, identity });
    const joined = await publisher.next((m) => m.type === 'joined');
    let request = 2;
    const publish = async (videoCodec, renegotiate) => {
      const pub = await cameraOffer(page, identity, videoCodec, { renegotiate });
      const id = request++;
      publisher.send({ type: 'publish', id, sdp: pub.sdp, tracks: [
        { mid: pub.audioMid, source: 'microphone' }, { mid: pub.videoMid, source: 'camera' }] });
      const answer = await publisher.next((m) => m.id === id);
      assert.equal(answer.type, 'publish_answer', JSON.stringify(answer));
      await answerWith(page, identity, answer.sdp);
      return answer.tracks.find((t) => t.mid === pub.videoMid).id;
    };
    return { joined, publish };
  }

  test('the room web app: a publisher renegotiating to a codec it did not offer, and back', async () => withServerLog(server, async () => {
    const { joined, publish } = await cameraPublisher('codecs-switch', 'switcher');
    const video = await publish('VP8', false);

    const viewer = await openRoomPage(browser.context, server.baseUrl, 'codecs-switch', {
      name: 'viewer', initScripts: [[receiveOnlyVp8, null]] });
    try {
      await waitForFlowingMedia(viewer, { video: 1, audio: 1, what: 'VP8 from the publisher' });
      const tile = viewer.locator(`.tile[data-sid="${joined.participant.sid}"]`);
      const notice = tile.locator('.tile-notice');
      const trackErrors = async () => (await roomEvents(viewer)).filter((e) => e.type === 'trackerror');

      assert.equal(await publish('VP9', true), video, 'the same track, renegotiated');
      const [error] = await waitFor(trackErrors, (events) => events.length >= 1, 10000, { what: 'a trackerror event' });
      assert.equal(error.track, video);
      assert.equal(error.code, 'no_common_codec');
      assert.match(error.message, /^video: the publisher sends VP9(, VP9 profile \d)*; this offer accepts VP8$/);
      assert.match(await tile.getAttribute('class'), /\brefused\b/);
      assert.ok(await notice.isVisible(), 'the notice is shown');
      assert.match(await notice.textContent(), /^This browser cannot play switcher's video: the publisher sends VP9(, VP9 profile \d)*; this offer accepts VP8\.$/);

      // Someone else publishes: the viewer subscribes again, and keeps the undecodable track.
      const other = await rtcSocket(server.baseUrl);
      sockets.push(other);
      other.send({ type: 'join', id: 1, room: 'codecs-switch', identity: 'other' });
      const otherJoined = await other.next((m) => m.type === 'joined');
      const otherOffer = await offer(page, 'other', { direction: 'sendonly', videoCodec: 'VP8' });
      other.send({ type: 'publish', id: 2, sdp: otherOffer.sdp, tracks: [
        { mid: otherOffer.audioMid, source: 'microphone' }, { mid: otherOffer.videoMid, source: 'camera' }] });
      assert.equal((await other.next((m) => m.id === 2)).type, 'publish_answer');
      await waitFor(() => roomEvents(viewer), (events) => events.some((e) => e.type === 'trackjoined' && e.sid === otherJoined.participant.sid),
        10000, { what: 'the viewer to subscribe to the other participant too' });
      assert.deepEqual((await roomEvents(viewer)).filter((e) => e.type === 'trackrefused'), [], 'the undecodable track stays subscribed');
      assert.ok(await notice.isVisible(), 'the notice stays');

      const before = summarize(await roomStats(viewer)).framesDecoded;
      assert.equal(await publish('VP8', true), video);
      const cleared = await waitFor(trackErrors, (events) => events.length >= 2, 10000, { what: 'the trackerror that clears it' });
      await assertPlaysAgain(viewer, { event: cleared[1], video, tile, notice, framesBefore: before });
      assert.deepEqual(viewer.problems, []);
    } finally {
      await viewer.close();
    }
  }));

  // The viewer's page and WebSocket go through `link` (its media does not): dropping the link
  // drops only its signalling, which it resumes once the link is back.
  test('the room web app: codec switches while its WebSocket is down come with the resumed joined', async () => withServerLog(server, async () => {
    const { joined, publish } = await cameraPublisher('codecs-resume', 'resumer');
    const video = await publish('VP8', false);
    const link = await startNetworkLink(server);
    const viewer = await openRoomPage(browser.context, link.origin, 'codecs-resume', {
      name: 'viewer', initScripts: [[receiveOnlyVp8, null]] });
    try {
      const joins = []; // every joined the viewer receives from now on
      viewer.on('websocket', (ws) => ws.on('framereceived', ({ payload }) => {
        const m = typeof payload === 'string' ? JSON.parse(payload) : null;
        if (m?.type === 'joined') joins.push(m);
      }));
      await waitForFlowingMedia(viewer, { video: 1, audio: 1, what: 'VP8 from the publisher' });
      const tile = viewer.locator(`.tile[data-sid="${joined.participant.sid}"]`);
      const notice = tile.locator('.tile-notice');

      /** With the viewer's WebSocket down, the publisher switches to videoCodec; the link
       *  comes back and the viewer resumes. Resolves with the resumed joined and the viewer's
       *  events since the drop. */
      const switchWhileDown = async (videoCodec) => {
        const mark = (await roomEvents(viewer)).length;
        const seen = joins.length;
        link.drop();
        await waitFor(() => request(`${server.baseUrl}/api/rooms/codecs-resume`),
          (r) => r.json?.participants?.find((q) => q.sid === viewer.participant.sid)?.state === 'disconnected', 5000,
          { what: 'the server to see the viewer disconnected' });
        assert.equal(await publish(videoCodec, true), video, 'the same track, renegotiated');
        await sleep(500); // the engine's word (every 0.1 s) reaches the room, which cannot tell the viewer
        link.restore();
        const resumed = await waitFor(async () => joins.slice(seen), (js) => js.find((j) => j.resumed), 10000,
          { what: 'the viewer to resume' });
        await waitFor(async () => (await roomEvents(viewer)).slice(mark), (events) => events.some((e) => e.type === 'reconnected'), 5000,
          { what: 'the viewer to say it reconnected' });
        return { joined: resumed.find((j) => j.resumed), events: (await roomEvents(viewer)).slice(mark) };
      };

      const down = await switchWhileDown('VP9');
      assert.equal(down.joined.track_errors.length, 1, JSON.stringify(down.joined.track_errors));
      const [kept] = down.joined.track_errors;
      assert.equal(kept.track, video);
      assert.equal(kept.participant, joined.participant.sid);
      assert.equal(typeof kept.mid, 'string');
      assert.equal(kept.error.code, 'no_common_codec');
      assert.match(kept.error.message, /^video: the publisher sends VP9(, VP9 profile \d)*; this offer accepts VP8$/);
      const errors = down.events.filter((e) => e.type === 'trackerror');
      assert.equal(errors.length, 1, JSON.stringify(down.events));
      assert.equal(errors[0].track, video);
      assert.equal(errors[0].code, 'no_common_codec');
      assert.match(await tile.getAttribute('class'), /\brefused\b/);
      assert.ok(await notice.isVisible(), 'the notice is shown');
      assert.match(await notice.textContent(), /^This browser cannot play resumer's video: the publisher sends VP9(, VP9 profile \d)*; this offer accepts VP8\.$/);

      const before = summarize(await roomStats(viewer)).framesDecoded;
      const up = await switchWhileDown('VP8');
      assert.deepEqual(up.joined.track_errors, []);
      const cleared = up.events.filter((e) => e.type === 'trackerror');
      assert.equal(cleared.length, 1, JSON.stringify(up.events));
      await assertPlaysAgain(viewer, { event: cleared[0], video, tile, notice, framesBefore: before });
      // Chromium logs each reconnection the dropped link refused.
      assert.deepEqual(viewer.problems.filter((p) => !/^console: WebSocket connection to .* failed/.test(p)), []);
    } finally {
      await viewer.close();
      await link.close();
    }
  }));
});
