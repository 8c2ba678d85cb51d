import { startServer, launchBrowser } from './lib/harness.mjs';
import { openRoomPage, roomStats, roomEvents, roomState, summarize, startNetworkLink, udpRedirectScript } from './lib/room.mjs';
const server = await startServer({ logLevel: process.env.LVL ?? 'debug' });
const b = await launchBrowser();
const link = await startNetworkLink(server);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
try {
  const a = await openRoomPage(b.context, server.baseUrl, 'dev', { name: 'Ada' });
  const c = await openRoomPage(b.context, link.origin, 'dev', { name: 'Cyd', initScripts: [[udpRedirectScript, { toPort: link.udpPort }]] });
  let ff, dee;
  if (process.env.FF) {
    ff = await launchBrowser('firefox');
    dee = await openRoomPage(ff.context, server.baseUrl, 'dev', { name: 'Dee' });
  }
  let bob;
  if (process.env.SCREEN) {
    bob = await openRoomPage(b.context, server.baseUrl, 'dev', { name: 'Bob' });
    await sleep(2000);
    await bob.evaluate(() => document.getElementById('screen-button').click());
    await sleep(3000);
    await bob.evaluate(() => document.getElementById('screen-button').click());
    if (process.env.SCREEN === 'leave') await bob.evaluate(() => document.getElementById('leave-button').click());
  }
  await sleep(3000);
  const raw = (p) => p.evaluate(async () => {
    const c = window.junctionRoom.client; const out = {};
    (await c.subscribeConnection.getStats()).forEach((r) => { if (r.type === 'inbound-rtp' && r.kind === 'video') out['in' + r.mid] = { pli: r.pliCount, nack: r.nackCount, kfd: r.keyFramesDecoded, fd: r.framesDecoded, pr: r.packetsReceived, lost: r.packetsLost }; });
    (await c.publishConnection.getStats()).forEach((r) => { if (r.type === 'outbound-rtp' && r.kind === 'video') out.out = { pli: r.pliCount, nack: r.nackCount, kfe: r.keyFramesEncoded, fe: r.framesEncoded, fs: r.framesSent }; });
    return JSON.stringify(out);
  });
  const show = async (tag) => { for (const p of [c]) console.log(tag, p.participant.name, await raw(p)); };
  const show0 = async (tag) => { for (const p of [a, c]) { const s = summarize(await roomStats(p)); console.log(tag, p.participant.name, s.framesDecoded, s.audioPackets, JSON.stringify(Object.values(s.tracks).map((t) => [t.kind, t.packetsReceived, t.framesDecoded]))); } };
  await show('before');
  console.log('DROP', new Date().toISOString());
  link.drop({ tcp: process.env.TCP !== '0' });
  await sleep(5000);
  link.restore({ rebind: process.env.REBIND !== '0' });
  console.log('RESTORE', new Date().toISOString());
  for (let i = 0; i < 12; i++) { await sleep(1000); await show('after' + i); }
  console.log(JSON.stringify((await roomEvents(c)).filter((e) => e.type !== "reconnecting").slice(-14)));
} catch (e) { console.log('ERR', e.message); }
finally { await ff?.close(); await b.close(); await link.close(); await server.stop(); }
