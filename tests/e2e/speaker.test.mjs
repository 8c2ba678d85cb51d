// Active speaker and subscription shaping end to end: the room web app in three headless
// Chromium pages against the (ASan) server.
//
// Run (after building the server):  node --test --test-concurrency=1 tests/e2e/speaker.test.mjs
// Environment: JUNCTION_BIN, CHROMIUM_BIN, JUNCTION_KEEP_LOGS=1 (see harness.mjs).
//
// Audio: Chromium's fake microphone (--use-fake-device-for-media-stream) plays short 400 Hz
// beeps. In the RFC 6464 levels it sends, about every other 200 ms window the server reads is
// well above the detector's silence level (-65 dBov), so it counts as speech within a few
// hundred milliseconds (0.3 to 1.1 s seen here). A page's microphone is held silent
// (track.enabled = false: the browser keeps sending packets, at level 127) from the first
// moment until the test lets it speak, so nobody speaks before the measurement starts. The
// app never knows: its track stays published and unmuted.
//
// The tests build on each other: Ada and Bob join silent; Ada speaks and must be the dominant
// speaker within 2 s. Cyd joins; Bob switches to audio only: his video from Ada stops while
// his audio goes on, and Cyd's video bitrate from Ada does not change (5 s windows); Bob
// switches back and Ada's video resumes. Every wait is bounded; pages and the browser are
// closed in after(), and what lingers is killed by PID.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';

import { waitFor, withServerLog } from './lib/harness.mjs';
import {
  openRoomPage, roomEvents, roomState, roomStats, startServerAndChromium, stopServerAndChromium,
} from './lib/room.mjs';

/**
 * Init script: every microphone track getUserMedia returns is silent (really disabled) until
 * window.letSpeak() is called, whatever the app sets `enabled` to; the app reads back what it
 * set. letSpeak() returns the page's clock at that moment.
 */
function silentMicrophoneScript() {
  const native = Object.getOwnPropertyDescriptor(MediaStreamTrack.prototype, 'enabled');
  const held = [];
  let open = false;
  const gum = MediaDevices.prototype.getUserMedia;
  MediaDevices.prototype.getUserMedia = async function heldMicrophone(...args) {
    const stream = await gum.apply(this, args);
    for (const track of stream.getAudioTracks()) {
      let wanted = native.get.call(track);
      Object.defineProperty(track, 'enabled', {
        configurable: true,
        get: () => wanted,
        set: (v) => {
          wanted = Boolean(v);
          native.set.call(track, wanted && open);
        },
      });
      native.set.call(track, false);
      held.push(track);
    }
    return stream;
  };
  window.letSpeak = () => {
    open = true;
    for (const track of held) native.set.call(track, track.enabled);
    return Date.now();
  };
}

/** The page's per-track receive counters for `kind` tracks of participant `sid`, summed. */
async function receivedFrom(page, sid, kind) {
  const rows = (await roomStats(page)).subscribe.tracks.filter((t) => t.participant === sid && t.kind === kind);
  return rows.reduce((sum, r) => ({
    tracks: sum.tracks + 1,
    framesDecoded: sum.framesDecoded + r.framesDecoded,
    bytesReceived: sum.bytesReceived + r.bytesReceived,
    packetsReceived: sum.packetsReceived + r.packetsReceived,
  }), { tracks: 0, framesDecoded: 0, bytesReceived: 0, packetsReceived: 0 });
}

/** Bytes per second of `kind` from `sid` that `page` receives over the next windowMs. */
async function bitrateFrom(page, sid, kind, windowMs) {
  const a = await receivedFrom(page, sid, kind);
  const start = Date.now();
  await sleep(windowMs);
  const b = await receivedFrom(page, sid, kind);
  return ((b.bytesReceived - a.bytesReceived) * 1000) / (Date.now() - start);
}

function tileClasses(page, sid) {
  return page.evaluate((s) => [...document.querySelector(`#grid li[data-sid="${s}"][data-kind="camera"]`)?.classList ?? []], sid);
}

describe('active speakers and audio-only mode with Chromium', { timeout: 150000 }, () => {
  let env;
  let server;
  let chromium;
  const pages = [];
  let ada, bob, cyd;

  before(async () => {
    env = await startServerAndChromium({ extraArgs: ['--media-listen', '127.0.0.1'] });
    ({ server, chromium } = env);
  });

  after(() => stopServerAndChromium(env, pages));

  async function open(name) {
    const page = await openRoomPage(chromium.context, server.baseUrl, 'talk', {
      name, initScripts: [[silentMicrophoneScript, null]],
    });
    pages.push(page);
    return page;
  }

  test('of two publishers, the one with audio becomes the dominant speaker within 2 s', async () => withServerLog(server, async () => {
    ada = await open('Ada');
    bob = await open('Bob');
    // Both connected and exchanging (silent) audio before anyone speaks.
    for (const [page, other] of [[ada, bob], [bob, ada]]) {
      await waitFor(() => receivedFrom(page, other.participant.sid, 'audio'), (r) => r.packetsReceived > 50, 15000,
        { what: `${page.participant.name} to receive ${other.participant.name}'s audio` });
    }
    const spokenAt = await ada.evaluate(() => window.letSpeak());
    const adaSid = ada.participant.sid;
    const event = await waitFor(async () => (await roomEvents(bob)).find((e) => e.type === 'speakers' && e.dominant === adaSid),
      Boolean, 3000, { intervalMs: 100, what: 'Bob to learn that Ada is the dominant speaker' });
    const delay = event.at - spokenAt;
    console.log(`# dominant speaker after ${delay} ms`);
    assert.ok(delay <= 2000, `Ada became the dominant speaker ${delay} ms after speaking`);
    for (const page of [ada, bob]) {
      const speakerEvents = (await roomEvents(page)).filter((e) => e.type === 'speakers');
      assert.ok(speakerEvents.every((e) => !e.speakers.includes(bob.participant.sid) && e.dominant !== bob.participant.sid),
        `silent Bob never speaks (${page.participant.name}: ${JSON.stringify(speakerEvents)})`);
    }
    // The web app highlights Ada's tile, on Bob's page and on her own.
    await waitFor(() => tileClasses(bob, adaSid), (c) => c.includes('dominant'), 2000, { what: "Ada's tile highlighted for Bob" });
    await waitFor(() => ada.evaluate(() => document.querySelector('#grid li.local')?.classList.contains('dominant')),
      Boolean, 2000, { what: "Ada's own tile highlighted" });
    assert.ok(!(await ada.evaluate((s) => document.querySelector(`#grid li[data-sid="${s}"]`)?.classList.contains('dominant'),
      bob.participant.sid)), "Bob's tile is not highlighted");
    assert.deepEqual([...ada.problems, ...bob.problems], [], 'page errors');
  }));

  test("audio only: the viewer's video stops, its audio goes on, another viewer's bitrate does not change; video resumes",
    async () => withServerLog(server, async () => {
      assert.ok(ada && bob, 'needs the previous test');
      cyd = await open('Cyd');
      const adaSid = ada.participant.sid;
      for (const page of [bob, cyd]) {
        await waitFor(() => receivedFrom(page, adaSid, 'video'), (r) => r.tracks === 1 && r.framesDecoded > 30, 20000,
          { what: `${page.participant.name} to decode Ada's video` });
      }
      // The bandwidth estimate keeps climbing for tens of seconds; with Ada's camera capped below
      // it, her rate is flat and a change stands out.
      await ada.evaluate(async () => {
        const { sender } = window.junctionRoom.client.localTracks.get('camera').transceiver;
        const params = sender.getParameters();
        params.encodings[0].maxBitrate = 120000;
        await sender.setParameters(params);
      });
      await sleep(3000);
      const before5s = await bitrateFrom(cyd, adaSid, 'video', 5000);

      await bob.evaluate(() => document.getElementById('audio-only-button').click());
      await waitFor(() => roomState(bob), (s) => s.subscription.audioOnly, 5000, { what: 'Bob to be in audio-only mode' });
      assert.equal(await bob.evaluate(() => document.getElementById('audio-only-button').getAttribute('aria-pressed')), 'true');
      const switchedAt = Date.now();
      const [during5s] = await Promise.all([
        bitrateFrom(cyd, adaSid, 'video', 5000),
        (async () => {
          await sleep(1000); // what was in flight lands
          const a = await receivedFrom(bob, adaSid, 'video');
          const audioA = await receivedFrom(bob, adaSid, 'audio');
          await sleep(3000);
          const b = await receivedFrom(bob, adaSid, 'video');
          const audioB = await receivedFrom(bob, adaSid, 'audio');
          console.log(`# Bob, audio only: video frames ${a.framesDecoded} -> ${b.framesDecoded}, bytes ${a.bytesReceived} -> ${b.bytesReceived}; audio packets ${audioA.packetsReceived} -> ${audioB.packetsReceived}`);
          assert.equal(b.framesDecoded, a.framesDecoded, "Bob decodes no more of Ada's video");
          assert.equal(b.bytesReceived, a.bytesReceived, "Bob receives no more of Ada's video");
          assert.ok(audioB.packetsReceived - audioA.packetsReceived > 100, "Bob still receives Ada's audio");
        })(),
      ]);
      console.log(`# Cyd receives Ada's video at ${Math.round(before5s * 8 / 1000)} kbit/s before, ${Math.round(during5s * 8 / 1000)} kbit/s after Bob's switch`);
      assert.ok(before5s > 0, "Cyd receives Ada's video");
      const ratio = during5s / before5s;
      assert.ok(ratio > 0.75 && ratio < 1.33, `Cyd's bitrate changed by a factor of ${ratio.toFixed(2)}`);
      const cydVideo = await receivedFrom(cyd, adaSid, 'video');
      assert.ok(Date.now() - switchedAt > 4000 && cydVideo.framesDecoded > 0);

      // Back to video: it resumes at once (a keyframe is asked for).
      const before = await receivedFrom(bob, adaSid, 'video');
      await bob.evaluate(() => document.getElementById('audio-only-button').click());
      const resumeAt = Date.now();
      await waitFor(() => receivedFrom(bob, adaSid, 'video'), (r) => r.framesDecoded > before.framesDecoded + 10, 5000,
        { intervalMs: 100, what: "Bob to decode Ada's video again" });
      console.log(`# video resumed (10 frames) ${Date.now() - resumeAt} ms after switching back`);
      assert.deepEqual([...ada.problems, ...bob.problems, ...cyd.problems], [], 'page errors');
    }));
});
