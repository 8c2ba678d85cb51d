// capture_chromium.mjs - captures real WebRTC offers from Debian's headless Chromium as SDP
// fixtures for the sdp module's tests. Throwaway tool; needs `npm install playwright-core`.
//   usage: node capture_chromium.mjs OUTDIR
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import {chromium} from 'playwright-core';

const outDir = process.argv[2] || '.';
const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'chromium-sdp-'));
const args = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
  '--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream',
  '--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1',
];

// Runs in the page: builds one RTCPeerConnection of the given shape, sets its offer as the
// local description and returns the SDP once ICE gathering completes (or after 5 s).
async function offerOf(shape) {
  const pc = new RTCPeerConnection();
  if (shape === 'publish') {
    const stream = await navigator.mediaDevices.getUserMedia({audio: true, video: true});
    for (const track of stream.getTracks())
      pc.addTransceiver(track, {direction: 'sendonly', streams: [stream]});
  } else if (shape === 'view') {
    pc.addTransceiver('audio', {direction: 'recvonly'});
    pc.addTransceiver('video', {direction: 'recvonly'});
  } else if (shape === 'simulcast') {
    const stream = await navigator.mediaDevices.getUserMedia({video: {width: 1280, height: 720}});
    pc.addTransceiver(stream.getVideoTracks()[0], {
      direction: 'sendonly', streams: [stream],
      sendEncodings: [
        {rid: 'q', scaleResolutionDownBy: 4.0},
        {rid: 'h', scaleResolutionDownBy: 2.0},
        {rid: 'f'},
      ],
    });
  }
  await pc.setLocalDescription(await pc.createOffer());
  await new Promise((resolve) => {
    if (pc.iceGatheringState === 'complete') return resolve();
    const timer = setTimeout(resolve, 5000);
    pc.addEventListener('icegatheringstatechange', () => {
      if (pc.iceGatheringState === 'complete') { clearTimeout(timer); resolve(); }
    });
  });
  const sdp = pc.localDescription.sdp;
  pc.close();
  return sdp;
}

// about:blank is not a secure context (navigator.mediaDevices is undefined there), but
// http://127.0.0.1 is, so serve one empty page on loopback.
const server = http.createServer((req, res) => {
  res.writeHead(200, {'content-type': 'text/html'});
  res.end('<!doctype html><title>sdp capture</title>');
});
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));

// A persistent context is how Playwright takes a fresh --user-data-dir.
const browser = await chromium.launchPersistentContext(userDataDir,
  {executablePath: '/usr/bin/chromium', args, headless: true});
try {
  const page = browser.pages()[0] || await browser.newPage();
  await page.goto(`http://127.0.0.1:${server.address().port}/`);
  console.log('user agent:', await page.evaluate(() => navigator.userAgent));
  for (const [shape, file] of [['publish', 'chromium_publish_offer.sdp'],
                               ['view', 'chromium_view_offer.sdp'],
                               ['simulcast', 'chromium_simulcast_offer.sdp']]) {
    const sdp = await page.evaluate(offerOf, shape);
    fs.writeFileSync(path.join(outDir, file), sdp);
    console.log(`${file}: ${sdp.length} bytes`);
  }
} finally {
  await browser.close();
  server.close();
  fs.rmSync(userDataDir, {recursive: true, force: true});
}
