// The room web app (/room/{name}): join, a grid of participants (the dominant speaker's tile
// highlighted, any tile pinned large), mute, screen share, audio only, leave.
// All signalling and media is in rtc-client.js; this file renders what it reports and tells the
// server how each remote video is shown (track settings: its tile's size in device pixels, and
// whether the tile is on screen), so that a small tile gets a small layer and a hidden one none.
//
// URL: /room/NAME?name=Ada&token=T   (?room=NAME when served elsewhere). With ?name= the page
// joins at once; then &camera=off / &mic=off start muted and &layers=svc|single changes how the
// camera is sent (simulcast by default, see rtc-client.js).
// Tests read window.junctionRoom: {client, state(), events, stats(), join(), leave()}.
import { CAMERA_LAYERS, ROOM_NAME_PATTERN, RoomClient } from '/rtc-client.js';

const $ = (id) => document.getElementById(id);
const el = {
  title: $('room-title'), state: $('room-state'),
  joinForm: $('join-form'), joinRoom: $('join-room'), joinName: $('join-name'), joinToken: $('join-token'),
  joinCamera: $('join-camera'), joinMic: $('join-mic'), joinButton: $('join-button'), joinError: $('join-error'),
  stage: $('stage'), grid: $('grid'), roomError: $('room-error'),
  leftCard: $('left-card'), leftTitle: $('left-title'), leftDetail: $('left-detail'), rejoin: $('rejoin-button'),
  controls: $('controls'), mic: $('mic-button'), camera: $('camera-button'), screen: $('screen-button'),
  audioOnly: $('audio-only-button'), leave: $('leave-button'), tileTemplate: $('tile-template'),
};

const CLOSE_MESSAGES = {
  left: 'You left the room',
  replaced: 'You joined this room from another tab or device',
  removed: 'You were removed from the room',
  room_closed: 'The room was closed',
  resume_timeout: 'The connection was lost',
  resume_failed: 'The connection was lost',
};
const QUALITY_LABELS = { excellent: 'excellent', good: 'good', poor: 'poor', lost: 'lost', unknown: 'not known yet' };
/** The camera asked for: up to 720p, so that simulcast has three layers to send. */
const CAMERA_CONSTRAINTS = { width: { ideal: 1280 }, height: { ideal: 720 } };
/** Tile changes (resizes, scrolling) settle this long before the server is told. */
const TRACK_SETTINGS_DEBOUNCE_MS = 300;

/** What the page knows, for rendering and for tests. */
const app = {
  client: null,
  events: [],        // every client event, summarised, in order
  tiles: new Map(),  // `${sid}:camera` | `${sid}:screen` -> {li, stream, sid, kind, video, width, height, onScreen}
  pinned: null,      // the key of the tile shown large, or null
  lastJoin: null,    // the options of the last join, for "Join again"
  joining: false,    // a join is in flight: its failure shows on the form
};

function roomFromLocation() {
  const m = /^\/room\/([^/]+)\/?$/.exec(location.pathname);
  if (m) {
    try {
      return decodeURIComponent(m[1]);
    } catch {
      return '';
    }
  }
  return new URLSearchParams(location.search).get('room') ?? '';
}

/** A stable identity for this tab: a reload replaces our old self instead of leaving a ghost. */
function tabIdentity(name) {
  let suffix = sessionStorage.getItem('junction.identity-suffix');
  if (!suffix) {
    suffix = Math.random().toString(36).slice(2, 8);
    sessionStorage.setItem('junction.identity-suffix', suffix);
  }
  const base = name.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 40) || 'guest';
  return `${base}-${suffix}`;
}

function showError(box, text) {
  box.hidden = !text;
  box.textContent = text ?? '';
}

function setView(view) {
  document.body.dataset.state = view;
  el.joinForm.hidden = view !== 'join';
  el.stage.hidden = view !== 'room';
  el.controls.hidden = view !== 'room';
  el.leftCard.hidden = view !== 'left';
}

function renderState() {
  const c = app.client;
  const state = c?.state ?? 'new';
  const labels = {
    new: 'not joined', connecting: 'joining…', reconnecting: 'reconnecting…', closed: 'not connected',
    joined: `connected · ${(c?.participants.size ?? 0) + 1} in the room`,
  };
  el.state.textContent = labels[state] ?? state;
  el.state.parentElement.dataset.state = state;
}

// --- tiles ---------------------------------------------------------------------------------

/** A tile's notices (track id -> {kind, text}): why some of its tracks cannot be received
 *  here. A tile whose video is refused shows its placeholder instead of a black picture. */
function renderNotices(tile) {
  const notices = [...tile.notices.values()];
  const box = tile.li.querySelector('.tile-notice');
  box.textContent = notices.map((n) => n.text).join('\n');
  box.hidden = notices.length === 0;
  tile.li.classList.toggle('refused', notices.some((n) => n.kind === 'video'));
}

/** Say on the track's tile why this browser cannot play it (message: the server's reason,
 *  "video: the publisher sends ..."). */
function showNotice(track, participant, message) {
  const name = participant?.name || participant?.identity || track.participant;
  const kind = tileKind(track.source);
  const tile = tileFor(track.participant, kind, kind === 'screen' ? `${name} · screen` : name);
  const what = track.kind === 'video' ? 'video' : 'sound';
  const why = (message ?? '').replace(/^\w+: /, ''); // "video: the publisher sends ..." -> "the publisher ..."
  tile.notices.set(track.id, { kind: track.kind, text: `This browser cannot play ${name}'s ${what}: ${why}.` });
  renderNotices(tile);
  renderBadges(track.participant);
}

function clearNotice(track) {
  const tile = app.tiles.get(`${track.participant}:${tileKind(track.source)}`);
  if (tile?.notices.delete(track.id)) renderNotices(tile);
}

function tileFor(sid, kind, label) {
  const key = `${sid}:${kind}`;
  let tile = app.tiles.get(key);
  if (tile) return tile;
  const li = el.tileTemplate.content.firstElementChild.cloneNode(true);
  const stream = new MediaStream();
  const video = li.querySelector('video');
  video.srcObject = stream;
  tile = { li, stream, sid, kind, video, width: 0, height: 0, onScreen: false, notices: new Map() };
  li.dataset.sid = sid;
  li.dataset.kind = kind;
  li.querySelector('.tile-name').textContent = label;
  li.querySelector('.tile-placeholder').textContent = initials(label);
  if (sid === 'local') {
    li.classList.add('local');
    video.muted = true; // never play our own microphone back
  }
  video.setAttribute('aria-label', `${label} video`);
  const pin = li.querySelector('.pin');
  pin.setAttribute('aria-label', `Show ${label} large`);
  pin.addEventListener('click', () => togglePinned(key));
  app.tiles.set(key, tile);
  if (sid === 'local' && kind === 'camera') el.grid.prepend(li); // we come first
  else el.grid.append(li);
  if (sid !== 'local') watchTile(tile);
  renderQuality(sid);
  renderSpeaker(tile);
  renderPinned();
  return tile;
}

function removeTile(sid, kind) {
  const key = `${sid}:${kind}`;
  const tile = app.tiles.get(key);
  if (!tile) return;
  resizeObserver.unobserve(tile.video);
  intersectionObserver.unobserve(tile.li);
  tile.video.srcObject = null;
  tile.li.remove();
  app.tiles.delete(key);
  if (app.pinned === key) {
    app.pinned = null;
    renderPinned();
  }
}

/** One tile at a time spans the whole grid; pinning it again (or another) gives its place back. */
function togglePinned(key) {
  app.pinned = app.pinned === key ? null : key;
  renderPinned();
}

function renderPinned() {
  for (const [key, tile] of app.tiles) {
    const pinned = key === app.pinned;
    tile.li.classList.toggle('pinned', pinned);
    const pin = tile.li.querySelector('.pin');
    pin.setAttribute('aria-pressed', String(pinned));
    pin.textContent = pinned ? 'Unpin' : 'Pin';
  }
}

function initials(label) {
  return label.split(/\s+/).filter(Boolean).slice(0, 2).map((w) => w[0].toUpperCase()).join('') || '?';
}

const tileKind = (source) => (source === 'screen' || source === 'screen_audio' ? 'screen' : 'camera');

function attachTrack(tile, track) {
  if (!tile.stream.getTrackById(track.id)) tile.stream.addTrack(track);
  // A tile's stream gains tracks over time; re-assigning makes every browser pick them up.
  tile.video.srcObject = tile.stream;
  tile.video.play().catch(() => {});
}

function detachTrack(tile, track) {
  if (track && tile.stream.getTrackById(track.id)) tile.stream.removeTrack(track);
}

/** Badges and placeholder of a participant's tiles from its tracks' muted states. */
function renderBadges(sid) {
  const tracks = sid === 'local' ? localTrackList() : [...(app.client.participants.get(sid)?.tracks.values() ?? [])];
  const on = (source) => tracks.some((t) => t.source === source && !t.muted);
  const tile = app.tiles.get(`${sid}:camera`);
  if (!tile) return;
  const micOff = !on('microphone');
  const camOff = !on('camera');
  tile.li.querySelector('.mic-off').hidden = !micOff;
  tile.li.querySelector('.cam-off').hidden = !camOff;
  tile.li.classList.toggle('no-video', camOff);
  tile.li.dataset.micOff = String(micOff);
  tile.li.dataset.camOff = String(camOff);
}

function localTrackList() {
  return [...(app.client?.localTracks.values() ?? [])];
}

function renderQuality(sid) {
  const c = app.client;
  const realSid = sid === 'local' ? c?.sid : sid;
  const quality = (realSid && c?.quality.get(realSid)) ?? 'unknown';
  for (const kind of ['camera', 'screen']) {
    const tile = app.tiles.get(`${sid}:${kind}`);
    if (!tile) continue;
    tile.li.dataset.quality = quality;
    const indicator = tile.li.querySelector('.quality');
    indicator.setAttribute('aria-label', `Connection quality: ${QUALITY_LABELS[quality] ?? quality}`);
    indicator.title = indicator.getAttribute('aria-label');
  }
}

/** A camera tile's speaking state: `speaking` while its participant speaks, `dominant` for the
 *  dominant speaker (a screen tile is not a person). */
function renderSpeaker(tile) {
  const c = app.client;
  if (tile.kind !== 'camera' || !c) return;
  const sid = tile.sid === 'local' ? c.sid : tile.sid;
  const dominant = sid !== null && sid === c.dominantSpeaker;
  tile.li.classList.toggle('dominant', dominant);
  tile.li.classList.toggle('speaking', c.activeSpeakers.includes(sid));
  tile.li.dataset.dominant = String(dominant);
}

function renderControls() {
  const c = app.client;
  const mic = c?.localTracks.get('microphone');
  const cam = c?.localTracks.get('camera');
  const micOff = !mic || mic.muted;
  const camOff = !cam || cam.muted;
  el.mic.setAttribute('aria-pressed', String(micOff));
  el.mic.textContent = micOff ? 'Unmute mic' : 'Mute mic';
  el.mic.disabled = !mic;
  el.camera.setAttribute('aria-pressed', String(camOff));
  el.camera.textContent = camOff ? 'Start camera' : 'Stop camera';
  el.camera.disabled = !cam;
  const sharing = Boolean(c?.screenSharing);
  el.screen.setAttribute('aria-pressed', String(sharing));
  el.screen.textContent = sharing ? 'Stop sharing' : 'Share screen';
  el.screen.disabled = !navigator.mediaDevices?.getDisplayMedia;
  const audioOnly = Boolean(c?.subscription.audioOnly);
  el.audioOnly.setAttribute('aria-pressed', String(audioOnly));
  el.audioOnly.textContent = audioOnly ? 'Show video' : 'Audio only';
  // The others' video stops arriving: show their placeholders instead of frozen frames.
  el.grid.classList.toggle('audio-only', audioOnly);
}

function renderLocal() {
  const c = app.client;
  const label = `${c.name || c.identity || 'You'} (you)`;
  const camTile = tileFor('local', 'camera', label);
  const screenTile = c.localTracks.get('screen') ? tileFor('local', 'screen', `${label} · screen`) : null;
  if (!screenTile) removeTile('local', 'screen');
  for (const entry of c.localTracks.values()) {
    // Only video in local tiles: our own sound is not played back.
    if (entry.kind !== 'video') continue;
    attachTrack(tileKind(entry.source) === 'screen' ? screenTile : camTile, entry.mediaStreamTrack);
  }
  for (const tile of [camTile, screenTile]) {
    if (!tile) continue;
    const live = new Set(localTrackList().map((e) => e.mediaStreamTrack.id));
    for (const t of tile.stream.getTracks()) if (!live.has(t.id)) tile.stream.removeTrack(t);
  }
  renderBadges('local');
  renderControls();
}

// --- track settings: how each remote video is shown, for the server's layer choice ----------

const tileOfElement = new WeakMap();

const resizeObserver = new ResizeObserver((entries) => {
  for (const entry of entries) {
    const tile = tileOfElement.get(entry.target);
    if (!tile) continue;
    // Device pixels where the browser says (a 2x screen needs twice the CSS size), else CSS
    // pixels scaled by the page's ratio.
    const box = entry.devicePixelContentBoxSize?.[0];
    tile.width = Math.round(box ? box.inlineSize : entry.contentRect.width * devicePixelRatio);
    tile.height = Math.round(box ? box.blockSize : entry.contentRect.height * devicePixelRatio);
  }
  scheduleTrackSettings();
});

const intersectionObserver = new IntersectionObserver((entries) => {
  for (const entry of entries) {
    const tile = tileOfElement.get(entry.target);
    if (tile) tile.onScreen = entry.isIntersecting;
  }
  scheduleTrackSettings();
});

function watchTile(tile) {
  tileOfElement.set(tile.video, tile);
  tileOfElement.set(tile.li, tile);
  try {
    resizeObserver.observe(tile.video, { box: 'device-pixel-content-box' });
  } catch {
    resizeObserver.observe(tile.video); // a browser without device-pixel boxes
  }
  intersectionObserver.observe(tile.li);
}

let trackSettingsTimer = null;

/** Tell the server about every remote video's tile once changes have settled. */
function scheduleTrackSettings() {
  clearTimeout(trackSettingsTimer);
  trackSettingsTimer = setTimeout(sendTrackSettings, TRACK_SETTINGS_DEBOUNCE_MS);
}

/**
 * The settings of each remote video track from its tile: hidden while the tile is off screen
 * or the page is not visible. The client sends only what changed; a track not subscribed yet
 * gets its settings ahead, so its video starts at the right layer.
 */
function sendTrackSettings() {
  const c = app.client;
  if (c?.state !== 'joined') return;
  const pageVisible = document.visibilityState === 'visible';
  for (const tile of app.tiles.values()) {
    if (tile.sid === 'local') continue;
    for (const track of c.participants.get(tile.sid)?.tracks.values() ?? []) {
      if (track.kind !== 'video' || tileKind(track.source) !== tile.kind) continue;
      const settings = { visible: pageVisible && tile.onScreen, width: tile.width, height: tile.height };
      c.setTrackSettings(track.id, settings).then((sent) => {
        if (sent) record('tracksettings', { sid: tile.sid, track: track.id, ...settings });
      }, (err) => record('tracksettingserror', { sid: tile.sid, track: track.id, code: err.code, message: err.detail ?? err.message }));
    }
  }
}

document.addEventListener('visibilitychange', scheduleTrackSettings);

// --- client events -------------------------------------------------------------------------

function record(type, detail) {
  app.events.push({ type, at: Date.now(), ...detail });
}

function wire(client) {
  const own = (handler) => (ev) => {
    if (app.client === client) handler(ev.detail);
  };
  client.addEventListener('statechange', own(({ state }) => {
    record('statechange', { state });
    renderState();
    if (state === 'joined') scheduleTrackSettings();
  }));
  client.addEventListener('participantjoined', own(({ participant: p }) => {
    record('participantjoined', { sid: p.sid, identity: p.identity });
    tileFor(p.sid, 'camera', p.name || p.identity);
    renderBadges(p.sid);
    renderState();
  }));
  client.addEventListener('participantleft', own(({ participant: p, reason }) => {
    record('participantleft', { sid: p.sid, identity: p.identity, reason });
    removeTile(p.sid, 'camera');
    removeTile(p.sid, 'screen');
    renderState();
  }));
  client.addEventListener('trackjoined', own(({ track, participant, mediaStreamTrack }) => {
    record('trackjoined', { sid: track.participant, track: track.id, kind: track.kind, source: track.source });
    const name = participant?.name || participant?.identity || track.participant;
    const kind = tileKind(track.source);
    attachTrack(tileFor(track.participant, kind, kind === 'screen' ? `${name} · screen` : name), mediaStreamTrack);
    renderBadges(track.participant);
    scheduleTrackSettings();
  }));
  client.addEventListener('trackrefused', own(({ track, participant, code, message }) => {
    record('trackrefused', { sid: track.participant, track: track.id, kind: track.kind, code, message });
    showNotice(track, participant, message);
  }));
  client.addEventListener('trackerror', own(({ track, participant, code, message }) => {
    record('trackerror', { sid: track.participant, track: track.id, kind: track.kind, code, message });
    if (code) showNotice(track, participant, message);
    else clearNotice(track);
  }));
  client.addEventListener('trackleft', own(({ track }) => {
    record('trackleft', { sid: track.participant, track: track.id, kind: track.kind, source: track.source });
    const kind = tileKind(track.source);
    const tile = app.tiles.get(`${track.participant}:${kind}`);
    if (tile) {
      clearNotice(track);
      detachTrack(tile, track.mediaStreamTrack);
      if (kind === 'screen' && tile.stream.getTracks().length === 0) removeTile(track.participant, 'screen');
    }
    renderBadges(track.participant);
  }));
  client.addEventListener('trackmuted', own(({ track, participant, muted }) => {
    record('trackmuted', { sid: participant?.sid ?? client.sid, track: track.id, muted });
    renderBadges(participant ? participant.sid : 'local');
    renderControls();
  }));
  client.addEventListener('localtrack', own(({ track }) => {
    record('localtrack', { track: track.id, source: track.source });
    renderLocal();
  }));
  client.addEventListener('quality', own(({ participants }) => {
    for (const { sid } of participants) renderQuality(sid === client.sid ? 'local' : sid);
  }));
  client.addEventListener('speakers', own(({ speakers, dominant }) => {
    record('speakers', { speakers, dominant });
    for (const tile of app.tiles.values()) renderSpeaker(tile);
  }));
  client.addEventListener('reconnecting', own(({ attempt }) => record('reconnecting', { attempt })));
  client.addEventListener('reconnected', own(() => {
    record('reconnected', {});
    showError(el.roomError, '');
  }));
  client.addEventListener('mediastate', own(({ connection, state }) => record('mediastate', { connection, state })));
  client.addEventListener('mediarestart', own(({ connection }) => record('mediarestart', { connection })));
  client.addEventListener('error', own(({ code, message }) => {
    record('error', { code, message });
    showError(el.roomError, `${code}: ${message}`);
  }));
  client.addEventListener('closed', own(({ reason, message }) => {
    record('closed', { reason, message });
    onClosed(reason, message);
  }));
}

function onClosed(reason, message) {
  for (const key of [...app.tiles.keys()]) {
    const [sid, kind] = key.split(':');
    removeTile(sid, kind);
  }
  renderState();
  if (app.joining) return; // join() reports its own failure on the form
  el.leftTitle.textContent = CLOSE_MESSAGES[reason] ?? 'You are no longer in the room';
  el.leftDetail.textContent = reason === 'left' ? '' : `${reason}${message ? `: ${message}` : ''}`;
  setView('left');
}

// --- actions -------------------------------------------------------------------------------

async function join({ room, name, token = '', identity = '', camera = true, mic = true, layers = 'simulcast' }) {
  if (app.client && app.client.state !== 'closed') throw new Error('already in a room');
  app.lastJoin = { room, name, token, identity, camera, mic, layers };
  const client = new RoomClient({
    room, name, token: token || undefined,
    identity: token ? undefined : identity || tabIdentity(name),
    cameraLayers: layers,
  });
  app.client = client;
  app.events.length = 0;
  wire(client);
  showError(el.joinError, '');
  showError(el.roomError, '');
  el.title.textContent = room;
  document.title = `${room} · Junction`;
  el.joinButton.disabled = true;
  app.joining = true;
  try {
    await client.join();
  } catch (err) {
    setView('join');
    showError(el.joinError, `Could not join: ${err.code ?? ''} ${err.detail ?? err.message}`.trim());
    throw err;
  } finally {
    app.joining = false;
    el.joinButton.disabled = false;
  }
  setView('room');
  renderLocal();
  // Drop ?name=&token= from the address bar: a token should not stay in history or be shared.
  if (location.pathname.startsWith('/room/')) history.replaceState(null, '', `/room/${encodeURIComponent(room)}`);
  await publishDevices(client, { camera, mic });
  return client;
}

/** Publish camera and microphone; fall back to what exists (a viewer without devices still joins). */
async function publishDevices(client, { camera, mic }) {
  const muted = { camera: !camera, microphone: !mic };
  for (const constraints of [{ audio: true, video: CAMERA_CONSTRAINTS }, { audio: true }, { video: CAMERA_CONSTRAINTS }]) {
    try {
      await client.publishUserMedia(constraints, { muted });
      renderLocal();
      return;
    } catch (err) {
      if (client.state === 'closed') return;
      if (err.name !== 'NotFoundError' && err.name !== 'NotReadableError' && err.name !== 'OverconstrainedError') {
        showError(el.roomError, `Camera/microphone: ${err.code ?? err.name}: ${err.detail ?? err.message}`);
        return;
      }
    }
  }
  showError(el.roomError, 'No camera or microphone found: you can watch and listen.');
}

async function toggleMuted(source) {
  const c = app.client;
  const entry = c?.localTracks.get(source);
  if (!entry) return;
  try {
    await c.setMuted(source, !entry.muted);
  } catch (err) {
    showError(el.roomError, `${err.code ?? err.name}: ${err.detail ?? err.message}`);
  }
  renderBadges('local');
  renderControls();
}

async function toggleScreen() {
  const c = app.client;
  try {
    if (c.screenSharing) await c.stopScreenShare();
    else await c.startScreenShare();
  } catch (err) {
    // NotAllowedError: the user cancelled the picker; nothing to report.
    if (err.name !== 'NotAllowedError') showError(el.roomError, `Screen share: ${err.code ?? err.name}: ${err.detail ?? err.message}`);
  }
  renderLocal();
}

async function toggleAudioOnly() {
  const c = app.client;
  if (!c) return;
  el.audioOnly.disabled = true;
  try {
    await c.setSubscription({ ...c.subscription, audioOnly: !c.subscription.audioOnly });
  } catch (err) {
    showError(el.roomError, `Audio only: ${err.code ?? err.name}: ${err.detail ?? err.message}`);
  } finally {
    el.audioOnly.disabled = false;
  }
  renderControls();
}

async function leave() {
  if (!app.client) return;
  record('leave', {});
  await app.client.leave();
}

el.joinForm.addEventListener('submit', (ev) => {
  ev.preventDefault();
  join({
    room: el.joinRoom.value.trim(), name: el.joinName.value.trim(), token: el.joinToken.value.trim(),
    camera: el.joinCamera.checked, mic: el.joinMic.checked,
  }).catch(() => {});
});
el.mic.addEventListener('click', () => toggleMuted('microphone'));
el.camera.addEventListener('click', () => toggleMuted('camera'));
el.screen.addEventListener('click', () => toggleScreen());
el.audioOnly.addEventListener('click', () => toggleAudioOnly());
el.leave.addEventListener('click', () => leave());
el.rejoin.addEventListener('click', () => join(app.lastJoin).catch(() => {}));
// Closing the tab: say goodbye so the others do not wait for the resume grace period.
window.addEventListener('pagehide', () => {
  if (app.client?.state === 'joined') app.client.leave();
});

// --- test and debugging surface ------------------------------------------------------------

/** Plain-data snapshot of the session. */
function snapshot() {
  const c = app.client;
  if (!c) return { state: 'new', participants: [], localTracks: [] };
  return {
    state: c.state, room: c.room, sid: c.sid, identity: c.identity, name: c.name,
    participants: [...c.participants.values()].map((p) => ({
      sid: p.sid, identity: p.identity, name: p.name, quality: c.quality.get(p.sid) ?? null,
      tracks: [...p.tracks.values()].map((t) => ({
        id: t.id, kind: t.kind, source: t.source, muted: t.muted,
        receiving: Boolean(t.mediaStreamTrack && t.mediaStreamTrack.readyState === 'live'),
      })),
    })),
    localTracks: localTrackList().map((e) => ({ id: e.id, kind: e.kind, source: e.source, muted: e.muted })),
    tiles: [...app.tiles.keys()],
    speakers: c.activeSpeakers, dominant: c.dominantSpeaker, subscription: c.subscription,
  };
}

/**
 * Media statistics: per-track rows from the client, plus the subscribe connection's raw
 * inbound-rtp streams (count and counters by kind), which is what a browser really receives.
 */
async function stats() {
  const c = app.client;
  if (!c) return null;
  const perTrack = await c.getStats();
  const inbound = { video: [], audio: [] };
  const report = await c.subscribeConnection?.getStats();
  report?.forEach((r) => {
    if (r.type !== 'inbound-rtp' || !inbound[r.kind]) return;
    inbound[r.kind].push({
      ssrc: r.ssrc, mid: r.mid ?? null, packetsReceived: r.packetsReceived ?? 0, packetsLost: r.packetsLost ?? 0,
      framesDecoded: r.framesDecoded ?? 0, keyFramesDecoded: r.keyFramesDecoded ?? 0, bytesReceived: r.bytesReceived ?? 0,
      nackCount: r.nackCount ?? 0, pliCount: r.pliCount ?? 0,
    });
  });
  return { ...perTrack, inbound };
}

window.junctionRoom = {
  get client() { return app.client; },
  events: app.events,
  state: snapshot,
  stats,
  join,
  leave,
};

// --- start ---------------------------------------------------------------------------------

const params = new URLSearchParams(location.search);
const room = roomFromLocation();
el.joinRoom.value = room;
el.title.textContent = room;
if (room) document.title = `${room} · Junction`;
el.joinName.value = params.get('name') ?? localStorage.getItem('junction.name') ?? '';
el.joinToken.value = params.get('token') ?? '';
el.joinName.addEventListener('change', () => localStorage.setItem('junction.name', el.joinName.value.trim()));
setView('join');
renderState();
renderControls();
if (!ROOM_NAME_PATTERN.test(room)) {
  if (room) showError(el.joinError, 'Room names are 1-64 characters: letters, digits, _ - .');
  el.joinRoom.focus();
} else if (params.get('name')) {
  const layers = params.get('layers') ?? 'simulcast';
  join({
    room, name: params.get('name'), token: params.get('token') ?? '', identity: params.get('identity') ?? '',
    camera: params.get('camera') !== 'off', mic: params.get('mic') !== 'off',
    layers: CAMERA_LAYERS.includes(layers) ? layers : 'simulcast',
  }).catch(() => {});
} else {
  el.joinName.focus();
}
