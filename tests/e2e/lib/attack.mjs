// Raw tools for the hostile-input and churn tests: crafted STUN/RTP/RTCP datagrams, HTTP
// requests from a chosen local address, the server's memory and descriptors from /proc, and
// a watcher that proves a viewer kept decoding while an attack ran.
//
// Attackers use other loopback addresses (127.0.0.2, 127.0.0.3, ...) so per-IP limits hit
// them and not the browser at 127.0.0.1. Every wait is bounded.
import crypto from 'node:crypto';
import dgram from 'node:dgram';
import { readFileSync, readdirSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import zlib from 'node:zlib';
import { setTimeout as sleep } from 'node:timers/promises';

import { getStats } from './harness.mjs';

/** { rssKb, fds } of a running process, from /proc. */
export function procUsage(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const rssKb = Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1] ?? NaN);
  const fds = readdirSync(`/proc/${pid}/fd`).length;
  return { rssKb, fds };
}

/** True when the process runs with AddressSanitizer (its memory numbers are inflated). */
export function isAsanProcess(pid) {
  return readFileSync(`/proc/${pid}/maps`, 'utf8').includes('libasan');
}

/**
 * One HTTP request on a fresh connection from localAddress. Resolves to
 * { status, json, headers } or { error } (a reset is an outcome here, not a failure).
 */
export function rawRequest(port, { localAddress = '127.0.0.1', method = 'GET', path = '/', headers = {}, body = null, timeoutMs = 5000 } = {}) {
  return new Promise((resolve) => {
    const req = http.request({ host: '127.0.0.1', port, method, path, localAddress, agent: false, headers, timeout: timeoutMs }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString();
        let json = null;
        try { json = JSON.parse(text); } catch { /* not JSON */ }
        resolve({ status: res.statusCode, json, headers: res.headers, text });
      });
      res.on('error', (error) => resolve({ error }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (error) => resolve({ error }));
    req.end(body ?? undefined);
  });
}

/**
 * Send the request head, then the body only as far as the server lets it: the status line
 * is read as soon as it arrives. Resolves { status, text, bodyBytesSent, closed }.
 */
export function headThenBody(port, { localAddress, head, body, timeoutMs = 10000 }) {
  return new Promise((resolve) => {
    const sock = net.connect({ host: '127.0.0.1', port, localAddress });
    let text = '';
    let sent = 0;
    let done = false;
    const finish = (closed) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0);
      resolve({ status, text, bodyBytesSent: sent, closed });
    };
    const timer = setTimeout(() => finish(false), timeoutMs);
    sock.on('data', (d) => {
      text += d.toString();
      if (/\r\n\r\n/.test(text)) {
        const cl = Number(/content-length:\s*(\d+)/i.exec(text)?.[1] ?? 0);
        if (text.length - text.indexOf('\r\n\r\n') - 4 >= cl) finish(false);
      }
    });
    sock.on('close', () => finish(true));
    sock.on('error', () => finish(true));
    sock.on('connect', async () => {
      sock.write(head);
      await sleep(300); // the server answers at the end of the headers
      for (let off = 0; off < body.length && !done && !text; off += 65536) {
        const chunk = body.subarray(off, off + 65536);
        sent += chunk.length;
        if (!sock.write(chunk)) await new Promise((r) => { sock.once('drain', r); setTimeout(r, 200); });
      }
    });
  });
}

/** Open `count` connections from localAddress that trickle header lines and never finish.
 * Resolves when all are closed by the server (or the deadline passes): { closed, openAfterMs }. */
export async function slowLoris(port, { localAddress, count, lineEveryMs = 500, deadlineMs = 30000, withBody = false }) {
  const t0 = Date.now();
  const closedAt = [];
  await Promise.all(Array.from({ length: count }, (_, i) => new Promise((resolve) => {
    const sock = net.connect({ host: '127.0.0.1', port, localAddress });
    let timer = null;
    const stop = setTimeout(() => sock.destroy(), deadlineMs);
    const end = () => { clearInterval(timer); clearTimeout(stop); resolve(); };
    sock.on('connect', () => {
      // Half of them finish the headers and then trickle a body they never complete.
      const body = withBody && i % 2 === 1;
      sock.write(body ? 'POST /whip/loris HTTP/1.1\r\nHost: x\r\nContent-Type: application/sdp\r\nContent-Length: 5000\r\n\r\n'
        : 'POST /whip/loris HTTP/1.1\r\nHost: x\r\n');
      let n = 0;
      timer = setInterval(() => sock.write(body ? 'v' : `X-Loris-${n++}: ${'a'.repeat(8)}\r\n`), lineEveryMs);
    });
    sock.on('close', () => { closedAt.push(Date.now() - t0); end(); });
    sock.on('error', () => {});
  })));
  return { closed: closedAt.length, lastClosedMs: Math.max(0, ...closedAt) };
}

/** A STUN Binding request as a browser's ICE check: USERNAME "<server>:<client>", PRIORITY,
 * ICE-CONTROLLING, USE-CANDIDATE, MESSAGE-INTEGRITY keyed with `password`, FINGERPRINT. */
export function stunBindingRequest({ serverUfrag, clientUfrag = 'evil', password }) {
  const attr = (type, value) => {
    const pad = (4 - (value.length % 4)) % 4;
    const h = Buffer.alloc(4);
    h.writeUInt16BE(type, 0);
    h.writeUInt16BE(value.length, 2);
    return Buffer.concat([h, value, Buffer.alloc(pad)]);
  };
  const u32 = (v) => { const b = Buffer.alloc(4); b.writeUInt32BE(v >>> 0); return b; };
  let body = Buffer.concat([
    attr(0x0006, Buffer.from(`${serverUfrag}:${clientUfrag}`)),
    attr(0x0024, u32(0x6e7f00ff)),
    attr(0x802a, crypto.randomBytes(8)),
    attr(0x0025, Buffer.alloc(0)),
  ]);
  const header = (len) => {
    const h = Buffer.alloc(20);
    h.writeUInt16BE(0x0001, 0);
    h.writeUInt16BE(len, 2);
    h.writeUInt32BE(0x2112a442, 4);
    tid.copy(h, 8);
    return h;
  };
  const tid = crypto.randomBytes(12);
  const mac = crypto.createHmac('sha1', password).update(Buffer.concat([header(body.length + 24), body])).digest();
  body = Buffer.concat([body, attr(0x0008, mac)]);
  const crc = zlib.crc32(Buffer.concat([header(body.length + 8), body]));
  body = Buffer.concat([body, attr(0x8028, u32((crc ^ 0x5354554e) >>> 0))]);
  return Buffer.concat([header(body.length), body]);
}

/** An RTP packet (unencrypted) with the given SSRC and payload type. */
export function rtpPacket({ ssrc, pt = 96, seq = 0, ts = 0, payloadLen = 200 }) {
  const b = Buffer.alloc(12 + payloadLen);
  b[0] = 0x80;
  b[1] = pt & 0x7f;
  b.writeUInt16BE(seq & 0xffff, 2);
  b.writeUInt32BE(ts >>> 0, 4);
  b.writeUInt32BE(ssrc >>> 0, 8);
  crypto.randomFillSync(b, 12);
  return b;
}

/** RTCP compounds whose length and count fields lie about what follows. */
export function lyingRtcp(ssrc) {
  const p = (...bytes) => Buffer.from(bytes);
  const s = [(ssrc >>> 24) & 255, (ssrc >>> 16) & 255, (ssrc >>> 8) & 255, ssrc & 255];
  return [
    p(0x80, 201, 0xff, 0xff, ...s),                             // RR: 65535 words in 8 bytes
    p(0x9f, 201, 0, 1, ...s),                                   // RR: 31 report blocks, none there
    p(0x80, 200, 0, 0, ...s),                                   // SR: length 0
    p(0x80, 201, 0, 1, ...s, 0x81, 206, 0, 0),                  // PLI without its media SSRC
    p(0x80, 201, 0, 1, ...s, 0x81, 205, 0, 200, ...s, ...s),    // NACK: 200 words, 8 there
    p(0x80, 201, 0, 1, ...s, 0x8f, 205, 0, 4, ...s, ...s, 0, 1, 0xff, 0xff), // transport-cc
    p(0x81, 202, 0, 9, ...s, 1, 200, 0x41),                     // SDES item past the end
    p(0x81, 203, 0, 1, ...s, 0x80, 204, 0, 0),                  // BYE + APP with no name
  ];
}

/** An SDP offer from `offer` with `count` m= lines: its own sections, then copies of them,
 * or with `tiny` minimal audio sections (so 1,000 of them stay under http.max_body). */
export function withMediaSections(offer, count, { tiny = false } = {}) {
  const lines = offer.split('\r\n');
  const first = lines.findIndex((l) => l.startsWith('m='));
  const session = lines.slice(0, first).filter((l) => !l.startsWith('a=group:'));
  const sections = [];
  let cur = null;
  for (const l of lines.slice(first)) {
    if (l.startsWith('m=')) sections.push((cur = [l]));
    else if (l) cur.push(l);
  }
  const out = [...session];
  const mids = [];
  for (let i = 0; i < count; i++) {
    const mid = `m${i}`;
    mids.push(mid);
    if (tiny && i >= sections.length) {
      out.push('m=audio 9 UDP/TLS/RTP/SAVPF 111', 'c=IN IP4 0.0.0.0', `a=mid:${mid}`, 'a=rtpmap:111 opus/48000/2');
    } else {
      out.push(...sections[i % sections.length].map((l) => (l.startsWith('a=mid:') ? `a=mid:${mid}` : l)));
    }
  }
  out.splice(session.length, 0, `a=group:BUNDLE ${mids.join(' ')}`);
  return `${out.join('\r\n')}\r\n`;
}

/** Send datagrams from one socket bound to host (any port); resolves with that port. */
export function sendFrom(port, datagrams, { host = '127.0.0.1', listenMs = 0 } = {}) {
  return new Promise((resolve, reject) => {
    const sock = dgram.createSocket('udp4');
    const received = [];
    sock.on('message', (m) => received.push(m));
    sock.on('error', (err) => { sock.close(); reject(err); });
    sock.bind(0, host, async () => {
      const { port: localPort } = sock.address();
      for (const d of datagrams) {
        await new Promise((r, j) => sock.send(d, port, '127.0.0.1', (e) => (e ? j(e) : r())));
      }
      await sleep(listenMs);
      sock.close(() => resolve({ localPort, received }));
    });
  });
}

/**
 * Sample a viewer's framesDecoded every intervalMs until stop(); stop() resolves
 * { gained, maxStallMs, samples } where maxStallMs is the longest time with no new frame.
 */
export function watchDecoding(page, { intervalMs = 250 } = {}) {
  const samples = [];
  let running = true;
  const loop = (async () => {
    while (running) {
      const s = await getStats(page, 'watch').catch(() => null);
      samples.push({ t: Date.now(), frames: s?.videoFramesDecoded ?? -1, state: s?.connectionState });
      await sleep(intervalMs);
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      let maxStallMs = 0;
      let lastChange = samples[0]?.t ?? Date.now();
      for (let i = 1; i < samples.length; i++) {
        if (samples[i].frames > samples[i - 1].frames) lastChange = samples[i].t;
        maxStallMs = Math.max(maxStallMs, samples[i].t - lastChange);
      }
      const gained = samples.length ? samples.at(-1).frames - samples[0].frames : 0;
      return { gained, maxStallMs, samples: samples.length, lastState: samples.at(-1)?.state };
    },
  };
}
