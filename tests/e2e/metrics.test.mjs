// GET /metrics: the Prometheus text exposition format 0.0.4 (docs/MONITORING.md). Every body
// is parsed by a real Prometheus parser, Debian's python3-prometheus-client
// (text_string_to_metric_families), and the test reads the figures from what it parsed.
// Access is /api/stats's: open in development mode, with API keys a server-wide admin token.
// With a Chromium publisher and viewer the media counters are > 0, rise between scrapes and
// keep what an ended session counted.
//
// Run (after building the server):  node --test tests/e2e/metrics.test.mjs
// Environment: JUNCTION_BIN, PYTHON3 (default /usr/bin/python3, Debian's, which has the
// parser), JUNCTION_KEEP_LOGS=1 (see harness.mjs).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';

import {
  assertCleanExit, JUNCTION_BIN, launchBrowser, openPublisher, openViewer, request, startServer,
  stopSession, waitFor, waitForDecoding, withServerLog,
} from './lib/harness.mjs';
import { mintToken } from './lib/room.mjs';

const PYTHON3 = process.env.PYTHON3 ?? '/usr/bin/python3';
const CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';
const key = 'APImetrics';
const secret = 'metrics-e2e-secret-0123456789abcdef0123456789';

// Parses stdin with prometheus_client and prints [{name, type, help, samples: [{name, labels,
// value}]}]; a malformed exposition makes the parser raise (non-zero exit).
const PARSE = `
import json, sys
from prometheus_client.parser import text_string_to_metric_families
print(json.dumps([{"name": f.name, "type": f.type, "help": f.documentation,
                   "samples": [{"name": s.name, "labels": s.labels, "value": s.value}
                               for s in f.samples]}
                  for f in text_string_to_metric_families(sys.stdin.read())]))
`;

/** The families of an exposition, as prometheus_client parsed them. */
function parseExposition(text) {
  return new Promise((resolve, reject) => {
    const child = execFile(PYTHON3, ['-c', PARSE], { timeout: 10000, maxBuffer: 16 << 20 },
      (err, stdout, stderr) => {
        if (err) reject(new Error(`prometheus_client refused the exposition: ${stderr || err.message}`));
        else resolve(JSON.parse(stdout));
      });
    child.stdin.end(text);
  });
}

/** GET /metrics (with a bearer token when given), checked and parsed. */
async function scrape(server, token) {
  const res = await request(`${server.baseUrl}/metrics`,
    token ? { headers: { Authorization: `Bearer ${token}` } } : {});
  assert.equal(res.status, 200, res.text);
  assert.equal(res.headers.get('content-type'), CONTENT_TYPE);
  const families = await parseExposition(res.text);
  const names = families.map((f) => f.name);
  assert.equal(new Set(names).size, names.length, `a family split in two: ${names}`);
  for (const f of families) {
    assert.ok(['counter', 'gauge'].includes(f.type), `${f.name} has no # TYPE (${f.type})`);
    assert.ok(f.help.length > 0, `${f.name} has no # HELP`);
    if (f.type === 'counter') {
      for (const s of f.samples) assert.ok(s.name.endsWith('_total'), `counter sample ${s.name}`);
    }
  }
  return families;
}

/** The sum of sample `name`'s values whose labels include `labels` (over workers). */
function total(families, name, labels = {}) {
  const samples = families.flatMap((f) => f.samples).filter((s) => s.name === name);
  assert.ok(samples.length > 0, `no sample ${name}`);
  return samples.filter((s) => Object.entries(labels).every(([k, v]) => s.labels[k] === v))
    .reduce((sum, s) => sum + s.value, 0);
}

// Counters a publisher and a viewer exchanging media must move: [sample, labels].
const MOVING = [
  ['junction_rtp_received_packets_total', { role: 'publisher' }],
  ['junction_rtp_received_bytes_total', { role: 'publisher' }],
  ['junction_rtp_sent_packets_total', { role: 'subscriber' }],
  ['junction_rtp_sent_bytes_total', { role: 'subscriber' }],
  ['junction_rtcp_received_packets_total', {}],
  ['junction_rtcp_sent_packets_total', {}],
  ['junction_udp_received_datagrams_total', {}],
  ['junction_udp_received_bytes_total', {}],
  ['junction_udp_sent_datagrams_total', {}],
  ['junction_udp_sent_bytes_total', {}],
];

describe('GET /metrics', { timeout: 180000 }, () => {
  let open;  // development mode: no API keys
  let keyed; // API keys
  let browser;
  const pages = [];

  before(async () => {
    open = await startServer({ logLevel: 'info' });
    keyed = await startServer({ logLevel: 'info',
      extraArgs: ['--auth-api-key', key, '--auth-api-secret', secret] });
  });

  after(async () => {
    try {
      for (const p of pages) await p.close().catch(() => {});
      await browser?.close();
    } finally {
      await open?.stop();
      await keyed?.stop();
    }
  });

  test('open in development mode: every family typed and documented, build info, no media yet', async () => withServerLog(open, async () => {
    const families = await scrape(open);
    const health = await request(`${open.baseUrl}/api/health`);
    const info = families.find((f) => f.name === 'junction_build_info');
    assert.deepEqual(info.samples, [{ name: 'junction_build_info', labels: { version: health.json.version }, value: 1 }]);
    assert.ok(total(families, 'junction_workers') >= 1);
    assert.ok(total(families, 'process_start_time_seconds') > 1.6e9);
    assert.ok(total(families, 'junction_uptime_seconds') >= 0);
    assert.equal(total(families, 'junction_rooms'), 0);
    assert.equal(total(families, 'junction_sessions'), 0);
    assert.equal(total(families, 'junction_rtp_received_packets_total'), 0);
    // One worker label value per worker, on every per-worker family.
    const workers = new Set(families.find((f) => f.name === 'junction_downtracks').samples.map((s) => s.labels.worker));
    assert.equal(workers.size, total(families, 'junction_workers'));
  }));

  test('HEAD is served without a body, other methods get 405', async () => withServerLog(open, async () => {
    const head = await request(`${open.baseUrl}/metrics`, { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(head.text, '');
    const post = await request(`${open.baseUrl}/metrics`, { method: 'POST', body: 'x' });
    assert.equal(post.status, 405, post.text);
    assert.equal(typeof post.json?.error, 'string');
  }));

  test('with API keys: 401 without a valid token, 403 without the server-wide admin grant, 200 with it', async () => withServerLog(keyed, async () => {
    const get = (token) => request(`${keyed.baseUrl}/metrics`, token ? { headers: { Authorization: `Bearer ${token}` } } : {});
    const missing = await get();
    assert.equal(missing.status, 401, missing.text);
    assert.equal(missing.json?.error, 'token_missing');
    assert.equal(missing.headers.get('www-authenticate'), 'Bearer');
    const forged = mintToken({ key, secret: 'not-the-secret-0123456789abcdef0123', room: '*', identity: 'x',
      claims: { grants: { admin: true } } });
    assert.equal((await get(forged)).status, 401);
    const participant = await get(mintToken({ key, secret, room: 'standup', identity: 'ann' }));
    assert.equal(participant.status, 403, participant.text);
    assert.equal(typeof participant.json?.error, 'string');
    const roomAdmin = await get(mintToken({ key, secret, room: 'standup', identity: 'ops', claims: { grants: { admin: true } } }));
    assert.equal(roomAdmin.status, 403, roomAdmin.text);
    const { stdout } = await promisify(execFile)(JUNCTION_BIN, ['token', '--api-key', key, '--api-secret', secret,
      '--room', '*', '--identity', 'ops', '--admin', '--ttl', '600'], { timeout: 10000 });
    await scrape(keyed, stdout.trim());
  }));

  test('a Chromium publisher and viewer: counters > 0, rising between scrapes, kept after the viewer leaves', async () => withServerLog(open, async () => {
    browser = await launchBrowser();
    const publisher = await openPublisher(browser.context, open.baseUrl, 'm1');
    pages.push(publisher);
    const viewer = await openViewer(browser.context, open.baseUrl, 'm1');
    pages.push(viewer);
    await waitForDecoding(viewer, { minFrames: 30 });

    const first = await scrape(open);
    assert.equal(total(first, 'junction_sessions', { role: 'publisher', state: 'connected' }), 1);
    assert.equal(total(first, 'junction_sessions', { role: 'subscriber', state: 'connected' }), 1);
    assert.equal(total(first, 'junction_tracks', { kind: 'audio', state: 'live' }), 1);
    assert.equal(total(first, 'junction_tracks', { kind: 'video', state: 'live' }), 1);
    assert.equal(total(first, 'junction_downtracks'), 2);
    for (const [name, labels] of MOVING) assert.ok(total(first, name, labels) > 0, `${name} ${JSON.stringify(labels)} is 0`);

    const second = await waitFor(() => scrape(open),
      (now) => MOVING.every(([name, labels]) => total(now, name, labels) > total(first, name, labels)), 10000,
      { intervalMs: 1000, what: 'every media counter to rise' });
    assert.ok(total(second, 'junction_uptime_seconds') > total(first, 'junction_uptime_seconds'));

    // An ended session's counters stay in the totals: a counter never steps back.
    await stopSession(viewer, 'watch');
    const third = await waitFor(() => scrape(open),
      (now) => total(now, 'junction_sessions', { role: 'subscriber' }) === 0, 10000,
      { what: 'the viewer session to end' });
    for (const [name, labels] of MOVING) {
      assert.ok(total(third, name, labels) >= total(second, name, labels), `${name} ${JSON.stringify(labels)} stepped back`);
    }
    assert.equal(total(third, 'junction_downtracks'), 0);
  }));

  test('both servers shut down cleanly (exit 0, no sanitizer report)', async () => {
    for (const p of pages.splice(0)) await p.close().catch(() => {});
    await browser?.close();
    browser = null;
    assertCleanExit(await open.stop());
    assertCleanExit(await keyed.stop());
  });
});
