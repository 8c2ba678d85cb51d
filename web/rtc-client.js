// Junction room client: the browser side of the room protocol (docs/PROTOCOL.md).
//
// One WebSocket carries JSON signalling; media uses two RTCPeerConnections: `publish` (our
// tracks, sendonly) and `subscribe` (everyone else's, one recvonly transceiver per track). We
// are always the offerer, and each connection has a negotiation queue, so exactly one offer per
// connection is in flight and a burst of changes collapses into one offer.
//
// The server is ICE-lite and answers with its own candidates: it only needs our ICE ufrag/pwd,
// so offers are sent as soon as they are set (no waiting for gathering, no trickle); our
// candidates reach the server as the source addresses of our connectivity checks.
//
// Layers: the camera is published with simulcast by default, three encodings of one track
// (rids q, h, f: a quarter, half and full resolution, lowest first), and the server forwards to
// each subscriber the one its bandwidth and its tile call for. `cameraLayers: 'svc'` sends one
// VP9 stream with three spatial and three temporal layers (L3T3_KEY) instead, the server
// selecting layers from it; 'single' sends one plain encoding. A capture whose shorter side is
// under 360 lines goes out as one encoding, and so does simulcast the server does not accept.
// Screen shares are one encoding. Subscribers say how they show each remote video with
// setTrackSettings() (tile size in device pixels, visible or not, layer caps); the room app
// (room.js) does it from the tiles' sizes and visibility.
//
// Usage:
//   const client = new RoomClient({ room: 'demo', identity: 'ada' });   // or { room, token }
//   client.addEventListener('trackjoined', (ev) => show(ev.detail.mediaStreamTrack));
//   await client.join();
//   await client.publishUserMedia({ audio: true, video: true });
//   await client.setTrackSettings(trackId, { visible: true, width: 640, height: 360 });
//
// Events (CustomEvent, data in `detail`):
//   statechange {state}                      'new' | 'connecting' | 'joined' | 'reconnecting' | 'closed'
//   participantjoined {participant}          participantleft {participant, reason}
//   trackjoined {track, participant, mediaStreamTrack}   a remote track's media can be played
//   trackleft {track, participant}           trackmuted {track, participant, muted}
//   trackrefused {track, participant, code, message}   a remote track we cannot receive: its
//                                            publisher sends no codec this browser offered
//                                            (code 'no_common_codec'); not asked for again
//   trackerror {track, participant, code, message}   a remote track we receive can no longer be
//                                            decoded here (code 'no_common_codec': its publisher
//                                            switched codecs), or, with code null, can again;
//                                            also after a resume for what changed meanwhile
//   localtrack {track}                       one of ours was published (track.id is the server's)
//   quality {participants: [{sid, quality}]}
//   speakers {speakers: [sid], dominant}     who speaks now (loudest first) and the dominant
//                                            speaker (a sid or null); our own sid may be there
//   reconnecting {attempt}                   reconnected {}
//   mediastate {connection, state}           ICE state of 'publish' or 'subscribe' changed
//   mediarestart {connection}                an ICE restart of one of them started
//   error {code, message}                    a request or a connection failed; the session goes on
//   closed {reason, message}                 the session is over (left, replaced, removed, ...)

const REQUEST_TIMEOUT_MS = 10000;
const CONNECT_TIMEOUT_MS = 10000;
const LEAVE_TIMEOUT_MS = 2000;
const PING_INTERVAL_MS = 5000;
const PING_TIMEOUT_MS = 5000;
const DEFAULT_RESUME_GRACE_S = 20;
const RECONNECT_BASE_DELAY_MS = 250;
const RECONNECT_MAX_DELAY_MS = 2000;
const ICE_DISCONNECTED_GRACE_MS = 2000;
const ICE_RESTART_MAX_ATTEMPTS = 5;
const ICE_RESTART_BASE_DELAY_MS = 1000;

/** Server error codes after which the server closes the connection (PROTOCOL.md, Errors). */
const FATAL_CODES = new Set([
  'token_missing', 'token_malformed', 'token_bad_signature', 'token_wrong_algorithm',
  'token_unknown_key', 'token_too_large', 'token_expired', 'token_not_yet_valid',
  'token_wrong_room', 'resume_failed', 'room_full',
]);

/** Camera simulcast encodings, lowest first (the server takes the m-section's rids in this order). */
const SIMULCAST_ENCODINGS = [
  { rid: 'q', scaleResolutionDownBy: 4, maxBitrate: 150_000 },
  { rid: 'h', scaleResolutionDownBy: 2, maxBitrate: 500_000 },
  { rid: 'f', scaleResolutionDownBy: 1, maxBitrate: 1_500_000 },
];
/** Camera SVC: one VP9 stream, three spatial layers (each half the size of the next) by three
 *  temporal ones, the spatial layers independent except at keyframes; the three simulcast
 *  encodings' budget together. */
const SVC_ENCODING = {
  scalabilityMode: 'L3T3_KEY',
  maxBitrate: SIMULCAST_ENCODINGS.reduce((sum, e) => sum + e.maxBitrate, 0),
};
/** Below this many lines (the capture's shorter side) the lowest layer would be under 90: one encoding. */
const LAYERED_MIN_LINES = 360;
export const CAMERA_LAYERS = ['simulcast', 'svc', 'single'];

const RESPONSE_TYPES = new Set(['joined', 'publish_answer', 'subscribe_answer', 'ack', 'left', 'pong', 'error']);

export const ROOM_NAME_PATTERN = /^[A-Za-z0-9_.-]{1,64}$/;

/** A failed request or connection: `code` is the server's error code or one of ours. */
export class RoomError extends Error {
  constructor(code, message) {
    super(`${code}: ${message}`);
    this.name = 'RoomError';
    this.code = code;
    this.detail = message;
    this.fatal = FATAL_CODES.has(code);
  }
}

/** The WebSocket URL of the server that served this page. */
export function defaultSignalUrl() {
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${scheme}//${location.host}/rtc`;
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Exponential backoff with ±20% jitter, so many clients do not retry in step. */
function backoffMs(attempt, baseMs, maxMs) {
  const ms = Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(ms * (0.8 + Math.random() * 0.4));
}

/** The mid whose m-section carries the connection's BUNDLE transport: the group's first. */
function bundleTransportMid(pc) {
  const sdp = pc.currentLocalDescription?.sdp ?? '';
  return /^a=group:BUNDLE (\S+)/m.exec(sdp)?.[1] ?? null;
}

/**
 * Take a transceiver out of use. Browsers tear the BUNDLE transport down (DTLS, and all the
 * connection's media with it) when the m-section carrying it is stopped, so that one is only
 * made inactive and kept in `spares` for the next track of its kind; any other is stopped.
 */
function retireTransceiver(pc, transceiver, spares) {
  if (transceiver.mid !== null && transceiver.mid === bundleTransportMid(pc)) {
    transceiver.direction = 'inactive';
    spares.push(transceiver);
  } else if (transceiver.currentDirection !== 'stopped') {
    transceiver.stop();
  }
}

/** A spare transceiver for `kind` that `fits` (removed from `spares`), or null. */
function takeSpare(spares, kind, fits = () => true) {
  const i = spares.findIndex((t) => t.receiver.track.kind === kind && t.currentDirection !== 'stopped' && fits(t));
  return i < 0 ? null : spares.splice(i, 1)[0];
}

/** How a local track is encoded: `wanted` for a video capture large enough to layer, else 'single'. */
function layersFor(track, wanted) {
  if (track.kind !== 'video' || wanted === 'single') return 'single';
  const { width = 0, height = 0 } = track.getSettings();
  return Math.min(width, height) >= LAYERED_MIN_LINES ? wanted : 'single';
}

/** The sendEncodings of addTransceiver for `layers` (undefined: the browser's one encoding). */
function sendEncodingsFor(layers) {
  if (layers === 'simulcast') return SIMULCAST_ENCODINGS.map((e) => ({ ...e }));
  if (layers === 'svc') return [{ ...SVC_ENCODING }];
  return undefined;
}

const DEPENDENCY_DESCRIPTOR_URI =
  'https://aomediacodec.github.io/av1-rtp-spec/#dependency-descriptor-rtp-header-extension';

/**
 * Ask to receive the AV1 Dependency Descriptor on a video transceiver: Chromium offers it only
 * when asked, and without it the server can forward an AV1 SVC publisher's base spatial layer
 * only (docs/PROTOCOL.md). Browsers without the API, or without the extension, stay as they are.
 */
function requestDependencyDescriptor(transceiver) {
  if (!transceiver.getHeaderExtensionsToNegotiate || !transceiver.setHeaderExtensionsToNegotiate) return;
  try {
    transceiver.setHeaderExtensionsToNegotiate(transceiver.getHeaderExtensionsToNegotiate().map((e) =>
      (e.uri === DEPENDENCY_DESCRIPTOR_URI && e.direction === 'stopped' ? { ...e, direction: 'recvonly' } : e)));
  } catch {
    // The offer keeps the browser's default extensions.
  }
}

/** Offer VP9 first on this transceiver (SVC needs it); a browser that refuses keeps its order. */
function preferVp9(transceiver) {
  const codecs = RTCRtpSender.getCapabilities?.('video')?.codecs ?? [];
  const vp9 = codecs.filter((c) => c.mimeType.toLowerCase() === 'video/vp9');
  if (vp9.length === 0 || !transceiver.setCodecPreferences) return;
  try {
    transceiver.setCodecPreferences([...vp9, ...codecs.filter((c) => !vp9.includes(c))]);
  } catch {
    // The default order still offers VP9; the server's choice decides.
  }
}

/** A track-settings dimension: whole device pixels, 0 (unknown) to 16384 (PROTOCOL.md). */
function settingsPixels(value, name) {
  const v = Math.round(Number(value ?? 0));
  if (!(v >= 0 && v <= 16384)) throw new RoomError('bad_request', `${name}: 0-16384 device pixels`);
  return v;
}

/** A track-settings layer cap: an integer 0-3, or null for none. */
function settingsLayerCap(value, name) {
  if (value === null || value === undefined) return null;
  if (!Number.isInteger(value) || value < 0 || value > 3) throw new RoomError('bad_request', `${name}: 0-3 or null`);
  return value;
}

/**
 * Runs one negotiation at a time. A request made while one runs is merged into the next run
 * (its options OR-ed), so any number of changes costs at most one extra offer.
 */
class NegotiationQueue {
  #run;
  #running = false;
  #next = null; // { iceRestart, waiters: [{resolve, reject}] }

  constructor(run) {
    this.#run = run;
  }

  request({ iceRestart = false } = {}) {
    return new Promise((resolve, reject) => {
      this.#next ??= { iceRestart: false, waiters: [] };
      this.#next.iceRestart ||= iceRestart;
      this.#next.waiters.push({ resolve, reject });
      if (!this.#running) this.#drain();
    });
  }

  async #drain() {
    this.#running = true;
    while (this.#next) {
      const job = this.#next;
      this.#next = null;
      try {
        await this.#run(job);
        for (const w of job.waiters) w.resolve();
      } catch (err) {
        for (const w of job.waiters) w.reject(err);
      }
    }
    this.#running = false;
  }
}

/**
 * Watches one RTCPeerConnection's ICE state and asks for an ICE restart when it has failed,
 * or stayed disconnected for ICE_DISCONNECTED_GRACE_MS. Consecutive restarts back off and
 * stop after ICE_RESTART_MAX_ATTEMPTS until the connection recovers. `restart()` returns
 * null when it cannot restart now (no signalling): that is not an attempt, we look again later.
 */
class IceWatchdog {
  #pc;
  #restart;
  #onGiveUp;
  #timer = null;
  #attempts = 0;
  #gaveUp = false;

  constructor(pc, restart, onGiveUp) {
    this.#pc = pc;
    this.#restart = restart;
    this.#onGiveUp = onGiveUp;
    pc.addEventListener('iceconnectionstatechange', () => this.#check());
  }

  #check() {
    const state = this.#pc.iceConnectionState;
    if (state === 'connected' || state === 'completed') {
      this.#attempts = 0;
      this.#gaveUp = false;
      this.#clear();
    } else if (state === 'failed') {
      this.#schedule(0);
    } else if (state === 'disconnected') {
      this.#schedule(ICE_DISCONNECTED_GRACE_MS);
    } else if (state === 'closed') {
      this.#clear();
    }
  }

  #schedule(delayMs) {
    if (this.#timer !== null || this.#gaveUp) return;
    if (this.#attempts >= ICE_RESTART_MAX_ATTEMPTS) {
      this.#gaveUp = true;
      this.#onGiveUp();
      return;
    }
    const backoff = this.#attempts ? backoffMs(this.#attempts, ICE_RESTART_BASE_DELAY_MS, 8000) : 0;
    this.#timer = setTimeout(() => {
      this.#timer = null;
      const state = this.#pc.iceConnectionState;
      if (state !== 'disconnected' && state !== 'failed') return;
      const restarting = this.#restart();
      if (!restarting) {
        this.#schedule(ICE_DISCONNECTED_GRACE_MS);
        return;
      }
      this.#attempts++;
      // Whether or not it worked, the state decides what comes next.
      restarting.catch(() => {}).finally(() => this.#check());
    }, Math.max(delayMs, backoff));
  }

  #clear() {
    clearTimeout(this.#timer);
    this.#timer = null;
  }

  stop() {
    this.#clear();
    this.#gaveUp = true;
  }
}

export class RoomClient extends EventTarget {
  /**
   * @param {object} options
   * @param {string} options.room      room name (ROOM_NAME_PATTERN)
   * @param {string} [options.token]   access token (required when the server has API keys)
   * @param {string} [options.identity] identity in open mode (a token's `sub` wins)
   * @param {string} [options.name]    display name
   * @param {string} [options.url]     WebSocket URL, default ws(s)://<this page's host>/rtc
   * @param {boolean} [options.autoSubscribe=true] receive every track published in the room;
   *   when false, only the tracks passed to subscribe()
   * @param {string} [options.cameraLayers='simulcast'] how the camera is sent: 'simulcast',
   *   'svc' (VP9 L3T3_KEY) or 'single' (see the top of this file)
   */
  constructor({ room, token, identity, name, url, autoSubscribe = true, cameraLayers = 'simulcast' } = {}) {
    super();
    if (!ROOM_NAME_PATTERN.test(room ?? '')) throw new RoomError('bad_request', 'room name: 1-64 of A-Z a-z 0-9 _ - .');
    if (!CAMERA_LAYERS.includes(cameraLayers)) throw new RoomError('bad_request', `cameraLayers: one of ${CAMERA_LAYERS.join(', ')}`);
    this.room = room;
    this.url = url ?? defaultSignalUrl();
    this.token = token ?? '';
    this.identity = identity ?? '';
    this.name = name ?? '';
    this.autoSubscribe = autoSubscribe;
    this.cameraLayers = cameraLayers;

    this.state = 'new';
    this.sid = null;
    this.session = null;
    this.resumeGraceS = DEFAULT_RESUME_GRACE_S;
    this.iceServers = [];
    /** @type {Map<string, {sid, identity, name, tracks: Map<string, object>}>} the others */
    this.participants = new Map();
    /** @type {Map<string, object>} our tracks by source: {source, kind, mediaStreamTrack, transceiver, id, muted,
     *  layers ('simulcast' | 'svc' | 'single': as offered; getStats() shows what is sent)} */
    this.localTracks = new Map();
    /** @type {Map<string, string>} last connection quality by sid */
    this.quality = new Map();
    /** Who speaks now (sids, loudest first) and the dominant speaker (sid or null). */
    this.activeSpeakers = [];
    this.dominantSpeaker = null;
    /** What we asked to receive (setSubscription); the server keeps it across a resume. */
    this.subscription = { audioOnly: false, lastN: null };
    this.publishConnection = null;
    this.subscribeConnection = null;

    this.#publishQueue = new NegotiationQueue((job) => this.#acrossResume(() => this.#negotiatePublish(job)));
    this.#subscribeQueue = new NegotiationQueue((job) => this.#acrossResume(() => this.#negotiateSubscribe(job)));
  }

  // --- signalling state -------------------------------------------------------------------
  #ws = null;
  #nextRequestId = 1;
  #pending = new Map(); // id -> {resolve, reject, timer}
  #pingTimer = null;
  #leaving = false;
  #serverClosed = null; // {reason, message} from a `closed` message
  #publishQueue;
  #subscribeQueue;
  #watchdogs = [];
  /** @type {Map<string, {trackId, transceiver, joined}>} subscribe transceivers by track id */
  #subscriptions = new Map();
  /** Track ids the server refused to send us (subscribe_answer null): not asked for again. */
  #refused = new Set();
  /** Remote tracks we receive but cannot decode here (track_error, a joined's track_errors):
   *  track id -> {participant (sid), code, message}. */
  #trackErrors = new Map();
  /** Track ids chosen with subscribe() when autoSubscribe is off. */
  #selected = new Set();
  /** The subscribe connection changed since the last completed offer/answer (a transceiver
   *  stopped, or an exchange failed): the next negotiation must make an offer. */
  #subscribeDirty = false;
  /** Inactive transceivers kept for reuse (see retireTransceiver), per connection. */
  #publishSpares = [];
  #subscribeSpares = [];
  #screenStream = null;
  /** How each publish transceiver was created to send ('simulcast' | 'svc' | 'single'): a spare
   *  is only reused for the same (its encodings are fixed once negotiated). */
  #transceiverLayers = new WeakMap();
  /** The last track_settings message per remote track id, sent again after a resume. */
  #trackSettings = new Map();
  /** The server answered track_settings with unknown_type: it has no layer selection. */
  #trackSettingsUnsupported = null;

  /** Every remote track by id: {id, participant, kind, source, muted, mediaStreamTrack}. */
  get remoteTracks() {
    const out = new Map();
    for (const p of this.participants.values()) for (const [id, t] of p.tracks) out.set(id, t);
    return out;
  }

  // --- public API -------------------------------------------------------------------------

  /** Connect and join. Resolves with the `joined` message; rejects with a RoomError. */
  async join() {
    if (this.state !== 'new') throw new RoomError('bad_state', `join() in state ${this.state}`);
    this.#setState('connecting');
    let joined;
    try {
      joined = await this.#connectAndJoin(null);
    } catch (err) {
      this.#finish(err.code ?? 'connect_failed', err.detail ?? String(err));
      throw err;
    }
    this.#applyJoined(joined);
    this.#setState('joined');
    this.#syncSubscriptions();
    return joined;
  }

  /**
   * Publish tracks in one negotiation: [{track: MediaStreamTrack, source, muted}]. A source
   * already published gets the new track swapped in without renegotiation.
   * Resolves when the server has answered (each entry then has its server track `id`).
   */
  async publishTracks(items) {
    this.#assertJoined();
    const pc = this.#ensurePublishConnection();
    const added = [];
    for (const { track, source, muted = false } of items) {
      track.enabled = !muted;
      const existing = this.localTracks.get(source);
      if (existing) {
        existing.mediaStreamTrack.stop();
        existing.mediaStreamTrack = track;
        await existing.transceiver.sender.replaceTrack(track);
        if (existing.muted !== muted) await this.setMuted(source, muted);
        continue;
      }
      const layers = layersFor(track, source === 'camera' ? this.cameraLayers : 'single');
      let transceiver = takeSpare(this.#publishSpares, track.kind, (t) => this.#transceiverLayers.get(t) === layers);
      if (transceiver) {
        transceiver.direction = 'sendonly';
        await transceiver.sender.replaceTrack(track);
      } else {
        transceiver = this.#addSendTransceiver(pc, track, layers);
      }
      const entry = { source, kind: track.kind, mediaStreamTrack: track, transceiver, id: null, muted, layers };
      this.localTracks.set(source, entry);
      track.addEventListener('ended', () => this.#onLocalTrackEnded(entry));
      added.push(entry);
    }
    if (added.length) {
      let failure = null;
      try {
        await this.#publishQueue.request();
      } catch (err) {
        failure = err;
      }
      // What the server did not accept is withdrawn, so the next offer does not carry it.
      const refused = added.filter((e) => e.id === null);
      for (const entry of refused) {
        if (this.localTracks.get(entry.source) === entry) this.localTracks.delete(entry.source);
        retireTransceiver(pc, entry.transceiver, this.#publishSpares);
      }
      if (failure) throw failure;
      if (refused.length) {
        throw new RoomError('not_published', `the server did not accept ${refused.map((e) => e.source).join(', ')}`);
      }
    }
    return items.map(({ source }) => this.localTracks.get(source)).filter(Boolean);
  }

  /** getUserMedia, then publish the microphone and camera together. */
  async publishUserMedia(constraints = { audio: true, video: true }, { muted = {} } = {}) {
    const stream = await navigator.mediaDevices.getUserMedia(constraints);
    try {
      return await this.publishTracks(stream.getTracks().map((track) => {
        const source = track.kind === 'audio' ? 'microphone' : 'camera';
        return { track, source, muted: Boolean(muted[source]) };
      }));
    } catch (err) {
      for (const t of stream.getTracks()) if (![...this.localTracks.values()].some((e) => e.mediaStreamTrack === t)) t.stop();
      throw err;
    }
  }

  /** Share the screen (and its audio when the browser offers it); resolves when published. */
  async startScreenShare() {
    this.#assertJoined();
    if (this.#screenStream) return this.localTracks.get('screen');
    const stream = await navigator.mediaDevices.getDisplayMedia({ video: true, audio: true });
    this.#screenStream = stream;
    try {
      await this.publishTracks(stream.getTracks().map((track) => ({
        track, source: track.kind === 'video' ? 'screen' : 'screen_audio',
      })));
    } catch (err) {
      await this.stopScreenShare().catch(() => {});
      for (const t of stream.getTracks()) t.stop();
      throw err;
    }
    return this.localTracks.get('screen');
  }

  async stopScreenShare() {
    this.#screenStream = null;
    await this.unpublish(['screen', 'screen_audio']);
  }

  get screenSharing() { return this.#screenStream !== null; }

  /** Stop publishing the given sources (their transceivers stop, the tracks end). */
  async unpublish(sources) {
    let changed = false;
    for (const source of sources) {
      const entry = this.localTracks.get(source);
      if (!entry) continue;
      this.localTracks.delete(source);
      entry.mediaStreamTrack.stop();
      retireTransceiver(this.publishConnection, entry.transceiver, this.#publishSpares);
      changed = true;
    }
    if (changed && this.state === 'joined') await this.#publishQueue.request();
  }

  /** Receive these remote tracks (only needed when autoSubscribe is off). */
  subscribe(trackIds) {
    for (const id of trackIds) this.#selected.add(id);
    return this.#syncSubscriptions();
  }

  /** Stop receiving these remote tracks (only meaningful when autoSubscribe is off). */
  unsubscribe(trackIds) {
    for (const id of trackIds) this.#selected.delete(id);
    return this.#syncSubscriptions();
  }

  /** Mute or unmute one of our sources: the track stops producing and the server stops forwarding. */
  async setMuted(source, muted) {
    const entry = this.localTracks.get(source);
    if (!entry) throw new RoomError('unknown_track', `nothing published from ${source}`);
    entry.muted = muted;
    entry.mediaStreamTrack.enabled = !muted;
    // Not yet published or signalling down: the publish offer or the resume carries the state.
    if (entry.id && this.state === 'joined') {
      await this.#request({ type: 'mute', track: entry.id, muted });
    }
  }

  /**
   * Shape what we receive, without renegotiating: `audioOnly` stops every video; `lastN`
   * (an integer, or null for no limit) lets through the cameras of only that many others,
   * chosen by who speaks (PROTOCOL.md, set_subscription). Held-back video stays subscribed and
   * resumes at a keyframe. Resolves when the server has applied it.
   */
  async setSubscription({ audioOnly = false, lastN = null } = {}) {
    this.#assertJoined();
    const wanted = { audioOnly: Boolean(audioOnly), lastN: lastN ?? null };
    await this.#request({ type: 'set_subscription', audio_only: wanted.audioOnly, last_n: wanted.lastN });
    this.subscription = wanted;
  }

  /**
   * Say how we show a remote video track, so that the server sends the layer that fits
   * (PROTOCOL.md, track_settings): `visible` false stops its video; `width` and `height` are
   * the tile's size in device pixels (0: unknown); `maxSpatial` and `maxTemporal` (0-3, or null
   * for no limit) cap the layers. Each call gives the whole settings of that track; it may come
   * before the track is subscribed, and the settings outlive a resume. Resolves true once the
   * server applied them, false if they equal the last ones given (nothing is sent then).
   * Rejects with a RoomError: `bad_request` for a value out of range, `unknown_type` from a
   * server without layer selection (every later call then rejects at once).
   */
  async setTrackSettings(trackId, { visible = true, width = 0, height = 0, maxSpatial = null, maxTemporal = null } = {}) {
    this.#assertJoined();
    if (this.#trackSettingsUnsupported) throw this.#trackSettingsUnsupported;
    const msg = {
      type: 'track_settings', track: String(trackId), visible: Boolean(visible),
      width: settingsPixels(width, 'width'), height: settingsPixels(height, 'height'),
      max_spatial: settingsLayerCap(maxSpatial, 'maxSpatial'), max_temporal: settingsLayerCap(maxTemporal, 'maxTemporal'),
    };
    const key = JSON.stringify(msg);
    if (this.#trackSettings.get(msg.track) === key) return false;
    this.#trackSettings.set(msg.track, key);
    try {
      await this.#request(msg);
    } catch (err) {
      // Lost with the signalling: the resume sends what is kept. Refused: forgotten.
      if (err.code === 'disconnected' && this.state === 'reconnecting') return false;
      if (this.#trackSettings.get(msg.track) === key) this.#trackSettings.delete(msg.track);
      if (err.code === 'unknown_type') this.#trackSettingsUnsupported = err;
      throw err;
    }
    return true;
  }

  /** Leave the room: tell the server, then close everything. */
  async leave() {
    if (this.state === 'closed') return;
    this.#leaving = true;
    if (this.state === 'joined') {
      try {
        await this.#request({ type: 'leave' }, LEAVE_TIMEOUT_MS);
      } catch {
        // The server drops us after its grace period anyway.
      }
    }
    this.#finish('left', 'you left the room');
  }

  /**
   * Per-track media statistics, from each transceiver's own stats (so they are attributed
   * exactly, in every browser):
   * { publish: {state, tracks: [{source, kind, id, layers, packetsSent, framesSent,
   *     encodings: [{rid, codec, active, frameWidth, frameHeight, framesSent, bytesSent, scalabilityMode,
   *                  qualityLimitationReason}]}]},   (one per RTP stream sent: a simulcast track has 3)
   *   subscribe: {state, tracks: [{trackId, participant, kind, source, mid, packetsReceived, framesDecoded,
   *     bytesReceived, codec, frameWidth, frameHeight, freezeCount, totalFreezesDuration}]} }
   */
  async getStats() {
    const pub = this.publishConnection;
    const sub = this.subscribeConnection;
    const out = {
      publish: { state: pub?.connectionState ?? 'none', ice: pub?.iceConnectionState ?? 'none', tracks: [] },
      subscribe: { state: sub?.connectionState ?? 'none', ice: sub?.iceConnectionState ?? 'none', tracks: [] },
    };
    for (const entry of this.localTracks.values()) {
      const row = {
        source: entry.source, kind: entry.kind, id: entry.id, muted: entry.muted, layers: entry.layers,
        packetsSent: 0, framesSent: 0, encodings: [],
      };
      const report = await entry.transceiver.sender.getStats();
      report.forEach((r) => {
        if (r.type !== 'outbound-rtp') return;
        row.packetsSent += r.packetsSent ?? 0;
        row.framesSent += r.framesSent ?? 0;
        if (r.kind !== 'video') return;
        row.encodings.push({
          rid: r.rid ?? null, codec: report.get(r.codecId)?.mimeType ?? null, active: r.active ?? true,
          frameWidth: r.frameWidth ?? 0, frameHeight: r.frameHeight ?? 0, framesSent: r.framesSent ?? 0,
          bytesSent: r.bytesSent ?? 0, scalabilityMode: r.scalabilityMode ?? null,
          qualityLimitationReason: r.qualityLimitationReason ?? null,
        });
      });
      out.publish.tracks.push(row);
    }
    const remote = this.remoteTracks;
    for (const sub of this.#subscriptions.values()) {
      const t = remote.get(sub.trackId);
      const row = {
        trackId: sub.trackId, participant: t?.participant ?? null, kind: sub.transceiver.receiver.track.kind,
        source: t?.source ?? null, mid: sub.transceiver.mid, joined: sub.joined,
        packetsReceived: 0, framesDecoded: 0, bytesReceived: 0,
        codec: null, frameWidth: 0, frameHeight: 0, freezeCount: 0, totalFreezesDuration: 0,
      };
      const report = await sub.transceiver.receiver.getStats();
      report.forEach((r) => {
        if (r.type !== 'inbound-rtp') return;
        row.codec = report.get(r.codecId)?.mimeType ?? row.codec;
        row.packetsReceived += r.packetsReceived ?? 0;
        row.framesDecoded += r.framesDecoded ?? 0;
        row.bytesReceived += r.bytesReceived ?? 0;
        row.frameWidth = r.frameWidth ?? row.frameWidth;
        row.frameHeight = r.frameHeight ?? row.frameHeight;
        row.freezeCount += r.freezeCount ?? 0;
        row.totalFreezesDuration += r.totalFreezesDuration ?? 0;
      });
      out.subscribe.tracks.push(row);
    }
    return out;
  }

  // --- connection and join ----------------------------------------------------------------

  #assertJoined() {
    if (this.state !== 'joined' && this.state !== 'reconnecting') {
      throw new RoomError('bad_state', `not joined (state ${this.state})`);
    }
  }

  #setState(state) {
    if (this.state === state) return;
    this.state = state;
    this.#emit('statechange', { state });
  }

  #emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }

  /** Open a WebSocket and send `join` (with `resume` when given); resolves with `joined`. */
  #connectAndJoin(resume) {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(this.url);
      this.#ws = ws;
      let settled = false;
      const fail = (err) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (this.#ws === ws) this.#dropSocket();
        reject(err);
      };
      const timer = setTimeout(() => fail(new RoomError('timeout', 'no answer to join')), CONNECT_TIMEOUT_MS);
      ws.addEventListener('message', (ev) => this.#onMessage(ws, ev.data));
      ws.addEventListener('close', (ev) => {
        if (!settled) fail(new RoomError('disconnected', `connection closed (${ev.code}${ev.reason ? ` ${ev.reason}` : ''})`));
        else this.#onSocketClosed(ws);
      });
      ws.addEventListener('open', () => {
        const msg = { type: 'join', room: this.room };
        if (this.token) msg.token = this.token;
        if (this.identity) msg.identity = this.identity;
        if (this.name) msg.name = this.name;
        if (resume) msg.resume = resume;
        this.#request(msg, CONNECT_TIMEOUT_MS).then((joined) => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          this.#startPing(ws);
          resolve(joined);
        }, fail);
      });
    });
  }

  /** Forget the current socket: pending requests fail, the socket is closed if still open. */
  #dropSocket() {
    const ws = this.#ws;
    this.#ws = null;
    clearInterval(this.#pingTimer);
    this.#pingTimer = null;
    for (const [id, p] of this.#pending) {
      clearTimeout(p.timer);
      p.reject(new RoomError('disconnected', 'signalling connection lost'));
      this.#pending.delete(id);
    }
    if (ws && ws.readyState <= WebSocket.OPEN) ws.close();
  }

  /** Send a request; resolves with its response, rejects with a RoomError. */
  #request(msg, timeoutMs = REQUEST_TIMEOUT_MS) {
    const ws = this.#ws;
    if (!ws || ws.readyState !== WebSocket.OPEN) {
      return Promise.reject(new RoomError('disconnected', 'no signalling connection'));
    }
    const id = this.#nextRequestId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new RoomError('timeout', `no answer to ${msg.type}`));
      }, timeoutMs);
      this.#pending.set(id, { resolve, reject, timer });
      ws.send(JSON.stringify({ ...msg, id }));
    });
  }

  /** A ping every PING_INTERVAL_MS: a silent network failure shows up as a missing pong. */
  #startPing(ws) {
    clearInterval(this.#pingTimer);
    this.#pingTimer = setInterval(() => {
      if (this.#ws !== ws) return;
      this.#request({ type: 'ping' }, PING_TIMEOUT_MS).catch((err) => {
        if (err.code === 'timeout' && this.#ws === ws) {
          // Treat as lost: closing triggers the reconnect path.
          this.#onSocketClosed(ws);
        }
      });
    }, PING_INTERVAL_MS);
  }

  #onMessage(ws, data) {
    if (ws !== this.#ws) return;
    let msg;
    try {
      msg = JSON.parse(data);
    } catch {
      this.#emit('error', { code: 'bad_message', message: 'the server sent invalid JSON' });
      return;
    }
    if (!msg || typeof msg.type !== 'string') return;
    if (RESPONSE_TYPES.has(msg.type) && msg.id !== undefined && this.#pending.has(msg.id)) {
      const p = this.#pending.get(msg.id);
      this.#pending.delete(msg.id);
      clearTimeout(p.timer);
      if (msg.type === 'error') p.reject(new RoomError(msg.code ?? 'error', msg.message ?? ''));
      else p.resolve(msg);
      return;
    }
    this.#onEvent(msg);
  }

  #onSocketClosed(ws) {
    if (ws !== this.#ws) return;
    this.#dropSocket();
    if (this.#leaving || this.state === 'closed') return;
    if (this.#serverClosed) {
      this.#finish(this.#serverClosed.reason, this.#serverClosed.message);
      return;
    }
    if (this.state === 'joined') this.#reconnect();
  }

  /** Resume within the grace period, with backoff; then restart ICE on both connections. */
  async #reconnect() {
    this.#setState('reconnecting');
    const deadline = Date.now() + this.resumeGraceS * 1000;
    for (let attempt = 1; this.state === 'reconnecting'; attempt++) {
      this.#emit('reconnecting', { attempt });
      try {
        const joined = await this.#connectAndJoin(this.session);
        if (this.state !== 'reconnecting') {
          this.#dropSocket(); // left or closed while we were reconnecting
          return;
        }
        this.#applyJoined(joined);
        this.#setState('joined');
        this.#emit('reconnected', { resumed: Boolean(joined.resumed) });
        await this.#restoreAfterResume(joined);
        return;
      } catch (err) {
        if (this.state !== 'reconnecting') return;
        const delay = backoffMs(attempt, RECONNECT_BASE_DELAY_MS, RECONNECT_MAX_DELAY_MS);
        if (err.fatal || Date.now() + delay > deadline) {
          this.#finish(err.fatal ? err.code : 'resume_timeout', err.detail ?? String(err));
          return;
        }
        await sleep(delay);
      }
    }
  }

  /**
   * After a resume: re-send mute states the server missed and the track settings (some may
   * have been given while signalling was down), bring the subscriptions up to date, and
   * restart ICE on each connection whose ICE is not connected. One that is connected
   * survived the outage (its consent checks pass): restarting it would only cost a glitch
   * while the path moves; if it fails later, its watchdog restarts it.
   */
  async #restoreAfterResume(joined) {
    const serverMuted = new Map((joined.participant?.tracks ?? []).map((t) => [t.id, t.muted]));
    const work = [];
    for (const entry of this.localTracks.values()) {
      if (entry.id && serverMuted.has(entry.id) && serverMuted.get(entry.id) !== entry.muted) {
        work.push(this.#request({ type: 'mute', track: entry.id, muted: entry.muted }));
      }
    }
    for (const key of this.#trackSettings.values()) {
      work.push(this.#request(JSON.parse(key)));
    }
    const broken = (pc) => pc && pc.iceConnectionState !== 'connected' && pc.iceConnectionState !== 'completed';
    if (broken(this.publishConnection)) work.push(this.#restartIce('publish'));
    work.push(broken(this.subscribeConnection) ? this.#restartIce('subscribe') : this.#syncSubscriptions());
    const results = await Promise.allSettled(work);
    for (const r of results) {
      if (r.status === 'rejected') this.#reportError(r.reason);
    }
  }

  /**
   * Run a negotiation; if signalling drops during it, wait for the resume and run it again
   * (it describes the whole connection, so running it late is right).
   */
  async #acrossResume(negotiate) {
    for (;;) {
      try {
        return await negotiate();
      } catch (err) {
        if (err.code !== 'disconnected' || this.state !== 'reconnecting') throw err;
        await new Promise((resolve) => {
          const onState = () => {
            if (this.state === 'reconnecting') return;
            this.removeEventListener('statechange', onState);
            resolve();
          };
          this.addEventListener('statechange', onState);
        });
        if (this.state !== 'joined') throw err;
      }
    }
  }

  #restartIce(connection) {
    this.#emit('mediarestart', { connection });
    if (connection === 'publish') return this.#publishQueue.request({ iceRestart: true });
    return this.#syncSubscriptions({ iceRestart: true });
  }

  /** The server ended both media connections (ICE consent lost): start over on new ones, with
   * the same local tracks (they get new track ids) and the same subscriptions. */
  async #rebuildMedia() {
    this.#emit('mediarestart', { connection: 'all' });
    for (const w of this.#watchdogs) w.stop();
    this.#watchdogs = [];
    this.publishConnection?.close();
    this.subscribeConnection?.close();
    this.publishConnection = null;
    this.subscribeConnection = null;
    this.#publishSpares = [];
    this.#subscribeSpares = [];
    this.#applyTrackErrors([]); // the new connection's subscribe says again what it cannot decode
    this.#subscriptions.clear();
    this.#refused.clear();
    if (this.localTracks.size > 0) {
      const pc = this.#ensurePublishConnection();
      for (const entry of this.localTracks.values()) {
        const track = entry.mediaStreamTrack;
        entry.transceiver = this.#addSendTransceiver(pc, track, entry.layers);
        entry.id = null;
      }
      await this.#publishQueue.request();
    }
    await this.#syncSubscriptions();
  }

  #reportError(err) {
    this.#emit('error', { code: err?.code ?? 'error', message: err?.detail ?? err?.message ?? String(err) });
  }

  /** The end of the session: every connection closed, local tracks stopped, `closed` emitted. */
  #finish(reason, message) {
    if (this.state === 'closed') return;
    this.#setState('closed');
    this.#dropSocket();
    for (const w of this.#watchdogs) w.stop();
    this.#watchdogs = [];
    for (const entry of this.localTracks.values()) entry.mediaStreamTrack.stop();
    this.publishConnection?.close();
    this.subscribeConnection?.close();
    this.#emit('closed', { reason, message });
  }

  // --- room state -------------------------------------------------------------------------

  /** Adopt the room state of a `joined` (first join or resume): emit what changed. */
  #applyJoined(joined) {
    this.sid = joined.participant.sid;
    this.identity = joined.participant.identity;
    this.name = joined.participant.name;
    this.session = joined.session;
    if (Number.isFinite(joined.resume_grace) && joined.resume_grace > 0) this.resumeGraceS = joined.resume_grace;
    if (Array.isArray(joined.ice_servers)) this.iceServers = joined.ice_servers;
    const present = new Map((joined.room?.participants ?? []).map((p) => [p.sid, p]));
    for (const [sid, p] of this.participants) {
      if (!present.has(sid)) this.#removeParticipant(p, 'left');
    }
    for (const info of present.values()) {
      const known = this.participants.get(info.sid);
      if (!known) {
        this.#addParticipant(info);
        continue;
      }
      const tracks = new Map((info.tracks ?? []).map((t) => [t.id, t]));
      for (const t of [...known.tracks.values()]) {
        if (!tracks.has(t.id)) this.#removeTrack(t);
      }
      for (const t of tracks.values()) {
        const old = known.tracks.get(t.id);
        if (!old) this.#addTrack(t);
        else if (old.muted !== Boolean(t.muted)) this.#setRemoteMuted(old, Boolean(t.muted));
      }
    }
    this.#applyTrackErrors(joined.track_errors);
  }

  /** A joined's track_errors, every track we receive but cannot decode now: a change while
   *  signalling was down is told as a live track_error would have been. */
  #applyTrackErrors(list) {
    const now = new Map((Array.isArray(list) ? list : []).filter((e) => e?.error).map((e) => [e.track, e]));
    for (const [id, known] of [...this.#trackErrors]) {
      if (!now.has(id)) this.#setTrackError(known.participant, id, null);
    }
    for (const e of now.values()) this.#setTrackError(e.participant, e.track, e.error);
  }

  /** A track we receive became undecodable here (error: {code, message}) or decodable again
   *  (null): emit trackerror when that changes what we knew. It stays subscribed either way. */
  #setTrackError(participantSid, trackId, error) {
    const track = this.participants.get(participantSid)?.tracks.get(trackId);
    if (!track || !this.#subscriptions.has(trackId)) return;
    const before = this.#trackErrors.get(trackId);
    if (error ? before?.code === error.code && before?.message === error.message : !before) return;
    if (error) this.#trackErrors.set(trackId, { participant: participantSid, code: error.code, message: error.message });
    else this.#trackErrors.delete(trackId);
    this.#emit('trackerror', {
      track, participant: this.participants.get(participantSid), code: error?.code ?? null, message: error?.message ?? null,
    });
  }

  #addParticipant(info) {
    const participant = { sid: info.sid, identity: info.identity, name: info.name || info.identity, tracks: new Map() };
    this.participants.set(info.sid, participant);
    this.#emit('participantjoined', { participant });
    for (const t of info.tracks ?? []) this.#addTrack(t);
  }

  #removeParticipant(participant, reason) {
    for (const t of [...participant.tracks.values()]) this.#removeTrack(t);
    this.participants.delete(participant.sid);
    this.quality.delete(participant.sid);
    this.#emit('participantleft', { participant, reason });
  }

  #addTrack(info) {
    const participant = this.participants.get(info.participant);
    if (!participant || participant.tracks.has(info.id)) return;
    participant.tracks.set(info.id, {
      id: info.id, participant: info.participant, kind: info.kind, source: info.source ?? 'unknown',
      muted: Boolean(info.muted), mediaStreamTrack: null,
    });
    this.#refused.delete(info.id);
  }

  /** The track is gone: its subscription ends at once; the next subscribe drops its m-section. */
  #removeTrack(track) {
    const participant = this.participants.get(track.participant);
    participant?.tracks.delete(track.id);
    const sub = this.#subscriptions.get(track.id);
    if (sub) {
      this.#subscriptions.delete(track.id);
      retireTransceiver(this.subscribeConnection, sub.transceiver, this.#subscribeSpares);
      this.#subscribeDirty = true;
    }
    this.#refused.delete(track.id);
    this.#trackErrors.delete(track.id);
    this.#selected.delete(track.id);
    this.#trackSettings.delete(track.id);
    if (track.mediaStreamTrack) this.#emit('trackleft', { track, participant });
  }

  #setRemoteMuted(track, muted) {
    track.muted = muted;
    this.#emit('trackmuted', { track, participant: this.participants.get(track.participant), muted });
  }

  #onEvent(msg) {
    switch (msg.type) {
      case 'participant_joined':
        if (msg.participant?.sid && msg.participant.sid !== this.sid && !this.participants.has(msg.participant.sid)) {
          this.#addParticipant(msg.participant);
          this.#syncSubscriptions();
        }
        break;
      case 'participant_left': {
        const p = this.participants.get(msg.sid);
        if (p) {
          this.#removeParticipant(p, msg.reason ?? 'left');
          this.#syncSubscriptions();
        }
        break;
      }
      case 'track_published':
        if (msg.track && msg.track.participant !== this.sid) {
          this.#addTrack(msg.track);
          this.#syncSubscriptions();
        }
        break;
      case 'track_unpublished': {
        const t = this.participants.get(msg.participant)?.tracks.get(msg.track);
        if (t) {
          this.#removeTrack(t);
          this.#syncSubscriptions();
        }
        break;
      }
      case 'track_muted': {
        const t = this.participants.get(msg.participant)?.tracks.get(msg.track);
        if (t) this.#setRemoteMuted(t, Boolean(msg.muted));
        else {
          const own = [...this.localTracks.values()].find((e) => e.id === msg.track);
          // An admin muted one of ours through the HTTP API: follow it locally.
          if (own) {
            own.muted = Boolean(msg.muted);
            own.mediaStreamTrack.enabled = !own.muted;
            this.#emit('trackmuted', { track: own, participant: null, muted: own.muted });
          }
        }
        break;
      }
      case 'track_error':
        // Its publisher changed codecs: one we did not offer, or back to one we did.
        this.#setTrackError(msg.participant, msg.track, msg.error ?? null);
        break;
      case 'connection_quality':
        for (const q of msg.participants ?? []) this.quality.set(q.sid, q.quality);
        this.#emit('quality', { participants: msg.participants ?? [] });
        break;
      case 'active_speakers':
        this.activeSpeakers = (Array.isArray(msg.speakers) ? msg.speakers : []).filter((sid) => typeof sid === 'string');
        this.dominantSpeaker = typeof msg.dominant === 'string' ? msg.dominant : null;
        this.#emit('speakers', { speakers: this.activeSpeakers, dominant: this.dominantSpeaker });
        break;
      case 'closed':
        this.#serverClosed = { reason: msg.reason ?? 'closed', message: msg.message ?? '' };
        break;
      case 'media_closed':
        this.#rebuildMedia().catch((err) => this.#reportError(err));
        break;
      case 'error':
        this.#emit('error', { code: msg.code ?? 'error', message: msg.message ?? '' });
        break;
      default:
        break; // unknown events are ignored, as the protocol allows new ones
    }
  }

  // --- media: publish ---------------------------------------------------------------------

  #newPeerConnection(kind) {
    const pc = new RTCPeerConnection({ iceServers: this.iceServers, bundlePolicy: 'max-bundle', rtcpMuxPolicy: 'require' });
    pc.addEventListener('iceconnectionstatechange', () => {
      this.#emit('mediastate', { connection: kind, state: pc.iceConnectionState });
    });
    this.#watchdogs.push(new IceWatchdog(pc,
      // Without signalling, the resume restarts ICE once it is back.
      () => (this.state === 'joined' ? this.#restartIce(kind) : null),
      () => this.#emit('error', { code: 'ice_failed', message: `${kind} connection: ICE restarts did not recover it` })));
    return pc;
  }

  #ensurePublishConnection() {
    this.publishConnection ??= this.#newPeerConnection('publish');
    return this.publishConnection;
  }

  #addSendTransceiver(pc, track, layers) {
    const transceiver = pc.addTransceiver(track, {
      direction: 'sendonly', streams: [new MediaStream([track])], sendEncodings: sendEncodingsFor(layers),
    });
    if (layers === 'svc') preferVp9(transceiver);
    this.#transceiverLayers.set(transceiver, layers);
    return transceiver;
  }

  /**
   * An answer without simulcast leaves the browser sending only the first encoding, the
   * quarter-resolution one: send that one at full size and without its cap instead.
   */
  async #fallBackToOneEncoding(entry) {
    const { sender } = entry.transceiver;
    const params = sender.getParameters();
    const [only] = params.encodings;
    if (params.encodings.length !== 1 || !only.rid || (only.scaleResolutionDownBy ?? 1) === 1) return;
    only.scaleResolutionDownBy = 1;
    delete only.maxBitrate;
    await sender.setParameters(params);
  }

  async #negotiatePublish({ iceRestart }) {
    const pc = this.publishConnection;
    if (!pc || this.state === 'closed') return;
    await pc.setLocalDescription(await pc.createOffer({ iceRestart }));
    const tracks = [];
    for (const entry of this.localTracks.values()) {
      if (entry.transceiver.mid !== null) tracks.push({ mid: entry.transceiver.mid, source: entry.source, muted: entry.muted });
    }
    const answer = await this.#exchange(pc, { type: 'publish', sdp: pc.localDescription.sdp, tracks });
    for (const t of answer.tracks ?? []) {
      const entry = [...this.localTracks.values()].find((e) => e.transceiver.mid === t.mid);
      if (!entry) continue;
      const first = entry.id === null;
      entry.id = t.id;
      if (entry.layers === 'simulcast') await this.#fallBackToOneEncoding(entry).catch((err) => this.#reportError(err));
      if (first) this.#emit('localtrack', { track: entry });
    }
  }

  /** Send an offer, apply the answer; on error the offer is rolled back so the next one starts clean. */
  async #exchange(pc, msg) {
    let answer;
    try {
      answer = await this.#request(msg);
    } catch (err) {
      if (pc.signalingState === 'have-local-offer') await pc.setLocalDescription({ type: 'rollback' }).catch(() => {});
      throw err;
    }
    if (pc.signalingState === 'closed') throw new RoomError('closed', 'connection closed');
    await pc.setRemoteDescription({ type: 'answer', sdp: answer.sdp });
    return answer;
  }

  #onLocalTrackEnded(entry) {
    // The user stopped sharing from the browser's own UI, or the device went away.
    if (this.localTracks.get(entry.source) !== entry || this.state === 'closed') return;
    if (entry.source === 'screen' || entry.source === 'screen_audio') {
      this.stopScreenShare().catch((err) => this.#reportError(err));
    } else {
      this.unpublish([entry.source]).catch((err) => this.#reportError(err));
    }
  }

  // --- media: subscribe -------------------------------------------------------------------

  /** Bring the subscribe connection in line with the tracks we want (queued, coalesced). */
  #syncSubscriptions({ iceRestart = false } = {}) {
    if (this.state !== 'joined') return Promise.resolve();
    const done = this.#subscribeQueue.request({ iceRestart });
    done.catch((err) => this.#reportError(err));
    return done;
  }

  async #negotiateSubscribe({ iceRestart }) {
    if (this.state !== 'joined') return;
    const wanted = new Map();
    for (const [id, t] of this.remoteTracks) {
      if (!this.#refused.has(id) && (this.autoSubscribe || this.#selected.has(id))) wanted.set(id, t);
    }
    let pc = this.subscribeConnection;
    if (!pc) {
      if (wanted.size === 0) return;
      pc = this.subscribeConnection = this.#newPeerConnection('subscribe');
    }
    let changed = this.#subscribeDirty;
    this.#subscribeDirty = false;
    for (const [id, sub] of this.#subscriptions) {
      if (wanted.has(id)) continue;
      this.#subscriptions.delete(id);
      retireTransceiver(pc, sub.transceiver, this.#subscribeSpares);
      changed = true;
    }
    for (const [id, t] of wanted) {
      if (this.#subscriptions.has(id)) continue;
      let transceiver = takeSpare(this.#subscribeSpares, t.kind);
      if (transceiver) transceiver.direction = 'recvonly';
      else transceiver = pc.addTransceiver(t.kind, { direction: 'recvonly' });
      if (t.kind === 'video') requestDependencyDescriptor(transceiver);
      this.#subscriptions.set(id, { trackId: id, transceiver, joined: false });
      changed = true;
    }
    if (!changed && !iceRestart) return;

    await pc.setLocalDescription(await pc.createOffer({ iceRestart }));
    const tracks = {};
    const byMid = new Map();
    for (const sub of this.#subscriptions.values()) {
      if (sub.transceiver.mid === null) continue;
      tracks[sub.transceiver.mid] = sub.trackId;
      byMid.set(sub.transceiver.mid, sub);
    }
    let answer;
    try {
      answer = await this.#exchange(pc, { type: 'subscribe', sdp: pc.localDescription.sdp, tracks });
    } catch (err) {
      this.#subscribeDirty = true;
      throw err;
    }
    let refusedAny = false;
    for (const [mid, trackId] of Object.entries(answer.tracks ?? {})) {
      const sub = byMid.get(mid);
      if (!sub || this.#subscriptions.get(sub.trackId) !== sub) continue;
      if (trackId !== sub.trackId) {
        // null: gone, not allowed or undecodable here. Stop asking until it is published again.
        const why = answer.errors?.[mid];
        const track = this.remoteTracks.get(sub.trackId);
        if (why && track) {
          this.#emit('trackrefused', {
            track, participant: this.participants.get(track.participant), code: why.code, message: why.message,
          });
        }
        this.#refused.add(sub.trackId);
        this.#subscriptions.delete(sub.trackId);
        retireTransceiver(pc, sub.transceiver, this.#subscribeSpares);
        this.#subscribeDirty = true;
        refusedAny = true;
        continue;
      }
      if (sub.joined) continue;
      const track = this.remoteTracks.get(sub.trackId);
      if (!track) continue;
      sub.joined = true;
      track.mediaStreamTrack = sub.transceiver.receiver.track;
      this.#emit('trackjoined', {
        track, participant: this.participants.get(track.participant), mediaStreamTrack: track.mediaStreamTrack,
      });
    }
    // Retired transceivers go inactive with the next offer; with nothing else to receive there
    // is none to make (an offer where nothing flows is refused): the next subscription makes it.
    if (refusedAny && this.#subscriptions.size > 0) this.#syncSubscriptions();
  }
}
