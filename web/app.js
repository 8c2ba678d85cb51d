// Junction web client: publish over WHIP, watch over WHEP, live stats from getStats().
//
// The server does not take trickle ICE yet, so the offer is sent once ICE gathering has
// completed (or after a 2 s cap) with every candidate inside it.
//
// For tests, window.junction.publish / window.junction.watch expose each session
// (its RTCPeerConnection as .pc, .state, .error, .resource and the last .stats summary).

const ICE_GATHER_CAP_MS = 2000;
const STATS_INTERVAL_MS = 1000;

/** Wait until ICE gathering is complete, or at most capMs. */
function waitIceGathering(pc, capMs) {
  if (pc.iceGatheringState === 'complete') return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      pc.removeEventListener('icegatheringstatechange', onChange);
      resolve();
    };
    const onChange = () => { if (pc.iceGatheringState === 'complete') done(); };
    const timer = setTimeout(done, capMs);
    pc.addEventListener('icegatheringstatechange', onChange);
  });
}

/** An Error carrying the server's {error, detail} answer. */
class ServerError extends Error {
  constructor(status, error, detail) {
    super(`${status} ${error}${detail ? `: ${detail}` : ''}`);
    this.status = status;
    this.error = error;
    this.detail = detail;
  }
}

async function serverError(res) {
  let error = res.statusText || 'error';
  let detail = '';
  const text = await res.text().catch(() => '');
  try {
    const body = JSON.parse(text);
    if (body && typeof body === 'object') {
      error = body.error ?? error;
      detail = body.detail ?? '';
    }
  } catch {
    detail = text.slice(0, 300);
  }
  return new ServerError(res.status, error, detail);
}

function formatBitrate(bps) {
  if (!Number.isFinite(bps)) return '–';
  if (bps >= 1e6) return `${(bps / 1e6).toFixed(2)} Mbit/s`;
  return `${(bps / 1e3).toFixed(0)} kbit/s`;
}

class Session {
  /**
   * @param {'publish'|'watch'} kind
   */
  constructor(kind) {
    this.kind = kind;
    this.el = {
      panel: document.getElementById(kind),
      form: document.getElementById(`${kind}-form`),
      stream: document.getElementById(`${kind}-stream`),
      token: document.getElementById(`${kind}-token`),
      start: document.getElementById(`${kind}-start`),
      stop: document.getElementById(`${kind}-stop`),
      state: document.getElementById(`${kind}-state`),
      error: document.getElementById(`${kind}-error`),
      video: document.getElementById(`${kind}-video`),
      stats: document.getElementById(`${kind}-stats`),
    };
    this.pc = null;
    this.media = null;      // local MediaStream (publisher)
    this.resource = null;   // session URL from the Location header, for DELETE
    this.token = '';
    this.state = 'idle';
    this.error = null;
    this.stats = null;
    this.prevBytes = null;  // {time, sent, received} for bitrates
    this.statsTimer = null;
    this.generation = 0;    // guards against a stop() racing a start() in flight

    this.el.form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      this.start(this.el.stream.value.trim(), this.el.token.value.trim());
    });
    this.el.stop.addEventListener('click', () => this.stop());
  }

  setState(state) {
    this.state = state;
    this.el.state.textContent = state;
    this.el.panel.dataset.state = state;
    const busy = state !== 'idle' && state !== 'failed' && state !== 'stopped';
    this.el.start.disabled = busy;
    this.el.stop.disabled = !busy;
    this.el.stream.disabled = busy;
    this.el.token.disabled = busy;
  }

  showError(err) {
    this.error = err ? {
      status: err.status ?? 0,
      error: err.error ?? err.name ?? 'error',
      detail: err.detail ?? err.message ?? String(err),
    } : null;
    if (!err) {
      this.el.error.hidden = true;
      this.el.error.textContent = '';
      return;
    }
    this.el.error.hidden = false;
    this.el.error.replaceChildren();
    const title = document.createElement('strong');
    title.textContent = this.error.status
      ? `Server error ${this.error.status}: ${this.error.error}`
      : `Error: ${this.error.error}`;
    this.el.error.append(title);
    if (this.error.detail) {
      const detail = document.createElement('span');
      detail.textContent = this.error.detail;
      this.el.error.append(detail);
    }
  }

  authHeaders() {
    return this.token ? { Authorization: `Bearer ${this.token}` } : {};
  }

  async start(stream, token) {
    if (!stream) return;
    await this.stop({ keepError: false, quiet: true });
    const gen = ++this.generation;
    this.token = token ?? '';
    this.showError(null);
    this.setState('starting');
    try {
      const pc = new RTCPeerConnection();
      this.pc = pc;
      pc.addEventListener('connectionstatechange', () => {
        if (gen !== this.generation) return;
        const s = pc.connectionState;
        if (s === 'connected') this.setState('live');
        else if (s === 'failed') {
          this.setState('failed');
          this.showError({ error: 'connection failed', detail: 'ICE/DTLS connection failed' });
        } else if (s === 'disconnected') this.setState('reconnecting');
      });

      if (this.kind === 'publish') {
        const media = await navigator.mediaDevices.getUserMedia({ video: true, audio: true });
        if (gen !== this.generation) {
          for (const track of media.getTracks()) track.stop();
          return;
        }
        this.media = media;
        this.el.video.srcObject = media;
        for (const track of this.media.getTracks()) {
          pc.addTransceiver(track, { direction: 'sendonly', streams: [this.media] });
        }
      } else {
        const remote = new MediaStream();
        this.el.video.srcObject = remote;
        pc.addTransceiver('video', { direction: 'recvonly' });
        pc.addTransceiver('audio', { direction: 'recvonly' });
        pc.addEventListener('track', (ev) => {
          remote.addTrack(ev.track);
          this.el.video.play().catch(() => {});
        });
      }

      await pc.setLocalDescription(await pc.createOffer());
      this.setState('gathering');
      await waitIceGathering(pc, ICE_GATHER_CAP_MS);
      if (gen !== this.generation) return;

      this.setState('signalling');
      const endpoint = `/${this.kind === 'publish' ? 'whip' : 'whep'}/${encodeURIComponent(stream)}`;
      const res = await fetch(endpoint, {
        method: 'POST',
        headers: { 'Content-Type': 'application/sdp', ...this.authHeaders() },
        body: pc.localDescription.sdp,
      });
      if (!res.ok) throw await serverError(res);
      const location = res.headers.get('Location');
      const resource = location ? new URL(location, res.url).href : null;
      const answer = await res.text();
      if (gen !== this.generation) {
        // Stopped while signalling: the server session exists but nobody wants it.
        if (resource) {
          fetch(resource, { method: 'DELETE', headers: this.authHeaders() }).catch(() => {});
        }
        return;
      }
      this.resource = resource;
      await pc.setRemoteDescription({ type: 'answer', sdp: answer });
      if (pc.connectionState !== 'connected') this.setState('connecting');
      this.startStats();
    } catch (err) {
      if (gen !== this.generation) return;
      this.showError(err);
      await this.stop({ keepError: true, quiet: true });
      this.setState('failed');
    }
  }

  /** DELETE the server-side session (best effort, errors shown). */
  async deleteResource() {
    const url = this.resource;
    this.resource = null;
    if (!url) return;
    try {
      const res = await fetch(url, { method: 'DELETE', headers: this.authHeaders() });
      if (!res.ok && res.status !== 404) this.showError(await serverError(res));
    } catch (err) {
      this.showError(err);
    }
  }

  async stop({ keepError = true, quiet = false } = {}) {
    this.generation++;
    clearInterval(this.statsTimer);
    this.statsTimer = null;
    const hadSession = this.pc !== null || this.resource !== null;
    await this.deleteResource();
    if (this.pc) {
      this.pc.close();
      this.pc = null;
    }
    if (this.media) {
      for (const track of this.media.getTracks()) track.stop();
      this.media = null;
    }
    this.el.video.srcObject = null;
    this.prevBytes = null;
    if (!keepError) this.showError(null);
    if (!quiet || hadSession) this.setState('stopped');
  }

  startStats() {
    clearInterval(this.statsTimer);
    this.statsTimer = setInterval(() => this.updateStats(), STATS_INTERVAL_MS);
    this.updateStats();
  }

  async updateStats() {
    const pc = this.pc;
    if (!pc) return;
    let report;
    try {
      report = await pc.getStats();
    } catch {
      return;
    }
    const s = {
      connectionState: pc.connectionState,
      iceConnectionState: pc.iceConnectionState,
      bytesSent: 0, bytesReceived: 0,
      framesSent: 0, framesEncoded: 0, framesDecoded: 0,
      audioPacketsSent: 0, audioPacketsReceived: 0,
      videoPacketsReceived: 0,
      packetsLost: 0, width: 0, height: 0, fps: 0,
      bitrate: NaN,
    };
    report.forEach((r) => {
      if (r.type === 'outbound-rtp') {
        s.bytesSent += r.bytesSent ?? 0;
        if (r.kind === 'video') {
          s.framesSent += r.framesSent ?? 0;
          s.framesEncoded += r.framesEncoded ?? 0;
          s.width = r.frameWidth ?? s.width;
          s.height = r.frameHeight ?? s.height;
          s.fps = r.framesPerSecond ?? s.fps;
        } else if (r.kind === 'audio') {
          s.audioPacketsSent += r.packetsSent ?? 0;
        }
      } else if (r.type === 'remote-inbound-rtp') {
        s.packetsLost += Math.max(0, r.packetsLost ?? 0);
      } else if (r.type === 'inbound-rtp') {
        s.bytesReceived += r.bytesReceived ?? 0;
        s.packetsLost += Math.max(0, r.packetsLost ?? 0);
        if (r.kind === 'video') {
          s.framesDecoded += r.framesDecoded ?? 0;
          s.videoPacketsReceived += r.packetsReceived ?? 0;
          s.width = r.frameWidth ?? s.width;
          s.height = r.frameHeight ?? s.height;
          s.fps = r.framesPerSecond ?? s.fps;
        } else if (r.kind === 'audio') {
          s.audioPacketsReceived += r.packetsReceived ?? 0;
        }
      }
    });
    const now = performance.now();
    const bytes = this.kind === 'publish' ? s.bytesSent : s.bytesReceived;
    if (this.prevBytes && now > this.prevBytes.time) {
      s.bitrate = ((bytes - this.prevBytes.bytes) * 8 * 1000) / (now - this.prevBytes.time);
    }
    this.prevBytes = { time: now, bytes };
    if (pc !== this.pc) return;
    this.stats = s;
    this.renderStats(s);
  }

  renderStats(s) {
    const rows = this.kind === 'publish'
      ? [
        ['Connection', `${s.connectionState} (ICE ${s.iceConnectionState})`],
        ['Outbound bitrate', formatBitrate(s.bitrate)],
        ['Frames sent', String(s.framesSent)],
        ['Audio packets sent', String(s.audioPacketsSent)],
        ['Packets lost (remote)', String(s.packetsLost)],
        ['Resolution', s.width ? `${s.width}×${s.height} @ ${Math.round(s.fps)} fps` : '–'],
      ]
      : [
        ['Connection', `${s.connectionState} (ICE ${s.iceConnectionState})`],
        ['Inbound bitrate', formatBitrate(s.bitrate)],
        ['Frames decoded', String(s.framesDecoded)],
        ['Audio packets received', String(s.audioPacketsReceived)],
        ['Packets lost', String(s.packetsLost)],
        ['Resolution', s.width ? `${s.width}×${s.height} @ ${Math.round(s.fps)} fps` : '–'],
      ];
    const nodes = [];
    for (const [name, value] of rows) {
      const dt = document.createElement('dt');
      dt.textContent = name;
      const dd = document.createElement('dd');
      dd.textContent = value;
      nodes.push(dt, dd);
    }
    this.el.stats.replaceChildren(...nodes);
  }
}

const publish = new Session('publish');
const watch = new Session('watch');
window.junction = { publish, watch };

// Leave cleanly: tell the server the sessions are gone (keepalive lets the DELETE outlive
// the page).
window.addEventListener('pagehide', () => {
  for (const s of [publish, watch]) {
    if (s.resource) {
      fetch(s.resource, { method: 'DELETE', headers: s.authHeaders(), keepalive: true })
        .catch(() => {});
      s.resource = null;
    }
  }
});

// ?publish=NAME / ?watch=NAME start at once; &token=T supplies the bearer token.
const params = new URLSearchParams(location.search);
const token = params.get('token') ?? '';
for (const [session, key] of [[publish, 'publish'], [watch, 'watch']]) {
  const name = params.get(key);
  if (name) {
    session.el.stream.value = name;
    session.el.token.value = token;
    session.start(name, token);
  }
}
