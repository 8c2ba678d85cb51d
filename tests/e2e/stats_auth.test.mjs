// GET /api/stats lists every session of every room and stream, so it takes what the admin API
// takes: with API keys a bearer token with the admin grant for every room (401 with
// WWW-Authenticate: Bearer without a valid one, 403 without the grant); without API keys
// (open development mode, loopback only) it is open. Static tokens (--token) never open it,
// and /api/health stays open for load balancers. No browser: plain fetch.
//
// Run (after building the server):  node --test tests/e2e/stats_auth.test.mjs
// Environment: JUNCTION_BIN, JUNCTION_KEEP_LOGS=1 (see harness.mjs).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';

import { assertCleanExit, JUNCTION_BIN, request, startServer, withServerLog } from './lib/harness.mjs';
import { mintToken } from './lib/room.mjs';

const key = 'APIstats';
const secret = 'stats-e2e-secret-0123456789abcdef0123456789';
const STATIC_TOKEN = 'static-secret';

/** GET path with `Authorization: Bearer token` when a token is given. */
function get(server, path, token) {
  return request(`${server.baseUrl}${path}`, token ? { headers: { Authorization: `Bearer ${token}` } } : {});
}

function assertRefused(res, status) {
  assert.equal(res.status, status, res.text);
  assert.equal(typeof res.json?.error, 'string', `a JSON error body: ${res.text}`);
  assert.equal(res.headers.get('www-authenticate'), status === 401 ? 'Bearer' : null);
}

describe('GET /api/stats access', { timeout: 60000 }, () => {
  let keyed; // API keys and static WHIP/WHEP tokens
  let open;  // development mode: no API keys, static tokens only

  before(async () => {
    keyed = await startServer({ logLevel: 'info', token: STATIC_TOKEN,
      extraArgs: ['--auth-api-key', key, '--auth-api-secret', secret] });
    open = await startServer({ logLevel: 'info', token: STATIC_TOKEN });
  });

  after(async () => {
    await keyed?.stop();
    await open?.stop();
  });

  test('with API keys: 401 without a valid token, static tokens included', async () => withServerLog(keyed, async () => {
    const missing = await get(keyed, '/api/stats');
    assertRefused(missing, 401);
    assert.equal(missing.json.error, 'token_missing');
    assertRefused(await get(keyed, '/api/stats', STATIC_TOKEN), 401);
    const forged = mintToken({ key, secret: 'not-the-secret-0123456789abcdef0123', room: '*', identity: 'x',
      claims: { grants: { admin: true } } });
    assertRefused(await get(keyed, '/api/stats', forged), 401);
  }));

  test('with API keys: 403 for a participant token and for a one-room admin token', async () => withServerLog(keyed, async () => {
    assertRefused(await get(keyed, '/api/stats', mintToken({ key, secret, room: 'standup', identity: 'ann' })), 403);
    const roomAdmin = mintToken({ key, secret, room: 'standup', identity: 'ops', claims: { grants: { admin: true } } });
    assertRefused(await get(keyed, '/api/stats', roomAdmin), 403);
  }));

  test('with API keys: 200 for `junction token --admin --room \'*\'`; /api/health stays open', async () => withServerLog(keyed, async () => {
    const { stdout } = await promisify(execFile)(JUNCTION_BIN, ['token', '--api-key', key, '--api-secret', secret,
      '--room', '*', '--identity', 'ops', '--admin', '--ttl', '600'], { timeout: 10000 });
    const stats = await get(keyed, '/api/stats', stdout.trim());
    assert.equal(stats.status, 200, stats.text);
    assert.equal(stats.json.sessions, 0);
    assert.ok(Array.isArray(stats.json.session_list), stats.text);
    assert.equal((await get(keyed, '/api/health')).status, 200);
  }));

  test('without API keys (development mode) /api/stats is open', async () => withServerLog(open, async () => {
    const stats = await get(open, '/api/stats');
    assert.equal(stats.status, 200, stats.text);
    assert.equal(stats.json.sessions, 0);
  }));

  test('both servers shut down cleanly (exit 0, no sanitizer report)', async () => {
    assertCleanExit(await keyed.stop());
    assertCleanExit(await open.stop());
  });
});
