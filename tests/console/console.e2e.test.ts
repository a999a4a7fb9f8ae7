/**
 * The web console end to end, in Debian's Chromium (playwright-core) against the built bidder as a
 * real process (`node dist/src/main.js`, embedded config store and chDB event store, as `npm start`
 * runs it): an operator creates an advertiser and its key; the advertiser signs in, is told what is
 * wrong with a bad campaign next to each field (and keeps what it typed), creates the campaign with
 * targeting and a creative; the operator approves the creative; a bid request gets the bid; the
 * advertiser's report moves, and shows nothing of the other advertisers'. Also: tables by placement with
 * their CSV and "block worst placements"; rule and lookalike audiences and the pixel snippet; the rest
 * of the targeting and the goal with inline errors; an edit made meanwhile refused (412) with the edits
 * kept; a video creative's preview and a rejection with its reason; key revocation; the kill switch
 * stopping and resuming a bidding campaign through /api/v1. Every screen passes axe
 * (no serious or critical violation); sign-in and navigation work from the keyboard; the first load
 * is under 300 KB gzipped; the browser never calls the bid port.
 *
 * Screenshots of the main screens are taken on every run; with UPDATE_SCREENSHOTS=1 they are written
 * to docs/console/ (the README shows them), otherwise to a temporary directory.
 * Needs the build (`npm run build`: dist/src and dist/console) and /usr/bin/chromium (tests/run.sh).
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { cp, mkdir } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { BidderProcess, TEST_ADMIN_KEY } from '../helpers/bidder-process.js';
import { httpRequest } from '../helpers/bidder.js';
import { TempDirs } from '../helpers/temp-dirs.js';
import { pathOf, substitute, until } from '../helpers/notice-kit.js';

const CHROMIUM = '/usr/bin/chromium';
const AXE = join('node_modules', 'axe-core', 'axe.min.js');
const ready = existsSync(CHROMIUM) && existsSync('dist/console/index.html') && existsSync('dist/src/main.js');
if (!ready) console.warn('console e2e: needs /usr/bin/chromium and the build (npm run build); skipped');

const temp = new TempDirs();
let shots: string;
let bidder: BidderProcess;
let browser: Browser;
let page: Page;
let base: string;
let advertiserKey = '';
/** Every URL the browser asked for. */
const requested: string[] = [];

/** The video creative's media file (not served: the preview only has to name it). */
const MEDIA = 'https://media.example/fabrikam-15s.mp4';
const VAST = `<VAST version="4.0"><Ad id="f15"><InLine><AdSystem>fabrikam</AdSystem><AdTitle>Fabrikam 15s</AdTitle><Impression><![CDATA[https://media.example/imp]]></Impression><Creatives><Creative><Linear><Duration>00:00:15</Duration><MediaFiles><MediaFile delivery="progressive" type="video/mp4" width="640" height="360"><![CDATA[${MEDIA}]]></MediaFile></MediaFiles></Linear></Creative></Creatives></InLine></Ad></VAST>`;

/** A 970x250 billboard in the US: no demo campaign has that size, so only the test's campaign bids. */
const billboard = (id: string) => ({
  id,
  tmax: 1000,
  imp: [{ id: '1', banner: { w: 970, h: 250 }, bidfloor: 0.1 }],
  site: { domain: 'news.example', page: 'https://news.example/a' },
  device: { ua: 'Mozilla/5.0 (X11; Linux x86_64) Chrome/120', ip: '203.0.113.7', devicetype: 2, geo: { country: 'USA' } },
});

async function axe(screen: string): Promise<void> {
  await page.addScriptTag({ path: AXE });
  const result = await page.evaluate(() => (window as unknown as { axe: { run(n: Node, o: object): Promise<any> } }).axe.run(document, { resultTypes: ['violations'] }));
  const bad = (result.violations as { id: string; impact: string; help: string; nodes: { target: string[] }[] }[])
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.impact} ${v.id}: ${v.help} at ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
  expect(bad, `axe on ${screen}`).toEqual([]);
}

async function shot(name: string): Promise<void> {
  await page.screenshot({ path: join(shots, `${name}.png`), fullPage: true });
}

async function signIn(key: string): Promise<void> {
  await page.goto(`${base}/#/campaigns`);
  if (await page.getByRole('button', { name: 'Sign out' }).isVisible()) await page.getByRole('button', { name: 'Sign out' }).click();
  await field('API key').fill(key);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { level: 1, name: 'Campaigns' }).waitFor();
}

/** The control labelled exactly `label` (a required field's label ends with " *"). */
const field = (label: string) => page.getByLabel(new RegExp(`^${label.replace(/[()$.*+?[\]]/g, '\\$&')}( \\*)?$`));

const go = async (hash: string, heading: string) => {
  await page.goto(`${base}/${hash}`);
  await page.getByRole('heading', { level: 1, name: heading }).waitFor();
};

beforeAll(async () => {
  if (!ready) return;
  const dir = await temp.make('console-e2e-');
  await cp('config', join(dir, 'config'), { recursive: true });
  shots = process.env.UPDATE_SCREENSHOTS === '1' ? join('docs', 'console') : join(dir, 'shots');
  await mkdir(shots, { recursive: true });
  [bidder, browser] = await Promise.all([
    BidderProcess.start(
      {
        CONFIG_DIR: join(dir, 'config'),
        DATA_DIR: join(dir, 'data'),
        BID_LOG_SAMPLE_RATE: '1',
        REQUEST_LOG_SAMPLE_RATE: '1',
        NOTICE_SIGNING_KEYS: 'k1:console-e2e-secret-0123456789',
      },
      40_000,
    ),
    chromium.launch({
      executablePath: CHROMIUM,
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'],
    }),
  ]);
  base = `http://127.0.0.1:${bidder.adminPort}`;
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  context.setDefaultTimeout(15_000);
  // The creatives' media host is not on the network: answered here, still seen as a request.
  await context.route('https://media.example/**', (r) => r.fulfill({ status: 404 }));
  page = await context.newPage();
  page.on('request', (r) => requested.push(r.url()));
}, 60_000);

// A failed step says what the screen showed.
afterEach(async (ctx) => {
  if (ctx.task.result?.state === 'fail' && page) console.error(`the screen at ${page.url()}:\n${await page.locator('body').innerText().catch(() => '?')}`);
});

afterAll(async () => {
  await browser?.close();
  if (bidder) await bidder.terminate();
  await temp.removeAll();
});

describe.skipIf(!ready)('the console', () => {
  it('first load: under 300 KB gzipped, hashed assets cached for good, sign-in from the keyboard alone', async () => {
    await page.goto(`${base}/`);
    await field('API key').waitFor();
    // What a browser downloads for the first screen, as the server sends it (gzip).
    let bytes = 0;
    for (const url of requested) {
      const r = await httpRequest(bidder.adminPort, 'GET', new URL(url).pathname, undefined, { 'accept-encoding': 'gzip' });
      expect(r.status, url).toBe(200);
      if (url.includes('/assets/')) expect(r.headers['cache-control']).toMatch(/immutable/);
      bytes += r.body.length;
    }
    expect(bytes).toBeGreaterThan(10_000);
    expect(bytes).toBeLessThan(300 * 1024);
    await axe('sign-in');
    await shot('sign-in');

    // Keyboard only: Tab to the key field, type, Enter.
    await page.keyboard.press('Tab');
    expect(await page.evaluate(() => document.activeElement?.getAttribute('type'))).toBe('password');
    await page.keyboard.type('dsp_wrong');
    await page.keyboard.press('Enter');
    await page.getByText('That key was not accepted').waitFor();
    await field('API key').fill('');
    await field('API key').focus();
    await page.keyboard.type(TEST_ADMIN_KEY);
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { level: 1, name: 'Campaigns' }).waitFor();
    // The key is in session storage, never in the URL.
    expect(page.url()).not.toContain(TEST_ADMIN_KEY);
    expect(await page.evaluate(() => sessionStorage.getItem('rtb-console-key'))).toBe(TEST_ADMIN_KEY);
    await page.getByRole('cell', { name: /Acme/ }).first().waitFor();
    await axe('campaigns (operator)');
  }, 40_000);

  it('an operator creates an advertiser and its key (shown once)', async () => {
    await go('#/ops/advertisers', 'Advertisers');
    await field('Id').fill('adv-fabrikam');
    await field('Name').fill('Fabrikam');
    await page.getByRole('button', { name: 'Create advertiser' }).click();
    await page.getByText('Advertiser adv-fabrikam created').waitFor();
    await axe('advertisers');

    await page.getByRole('link', { name: 'API keys' }).click();
    await page.getByRole('heading', { level: 1, name: 'API keys' }).waitFor();
    await field('Name').fill('Fabrikam team');
    await field('Role').selectOption('advertiser');
    await field('Advertisers').fill('adv-fabrikam');
    await page.getByRole('button', { name: 'Create key' }).click();
    advertiserKey = await field('Key').inputValue();
    expect(advertiserKey).toMatch(/^dsp_[0-9a-f]{16}_/);
    await page.getByRole('cell', { name: 'Fabrikam team', exact: true }).first().waitFor();
    await axe('keys');
    await shot('keys');

    // Revoke a key (after a confirmation): gone from the list, refused from then on.
    await field('Name').fill('Throwaway');
    await field('Role').selectOption('read-only');
    await field('Advertisers').fill('');
    await page.getByRole('button', { name: 'Create key' }).click();
    await page.getByRole('cell', { name: 'Throwaway', exact: true }).waitFor();
    const throwaway = await field('Key').inputValue();
    const me = (key: string) => httpRequest(bidder.adminPort, 'GET', '/api/v1/me', undefined, { authorization: `Bearer ${key}` });
    expect((await me(throwaway)).status).toBe(200);
    page.once('dialog', (d) => void d.accept());
    await page.getByRole('button', { name: 'Revoke Throwaway' }).click();
    await page.getByRole('cell', { name: 'Throwaway', exact: true }).waitFor({ state: 'detached' });
    expect((await me(throwaway)).status).toBe(401);
    expect((await me(advertiserKey)).status).toBe(200);
  }, 40_000);

  it('the advertiser sees errors next to the fields, keeps what it typed, then creates a campaign with targeting and a creative', async () => {
    await signIn(advertiserKey);
    // None of the demo advertisers' campaigns.
    await page.getByText('No campaigns yet').waitFor();
    await page.getByRole('link', { name: 'New campaign' }).click();
    await page.getByRole('heading', { level: 1, name: 'New campaign' }).waitFor();
    await field('Id').fill('cmp-fabrikam-billboard');
    await field('Name').fill('Fabrikam billboards');
    await field('Base bid (CPM)').fill('two');
    await field('Max bid (CPM)').fill('3');
    await field('Daily budget').fill('50');
    await field('Countries').fill('US$');
    await page.getByRole('checkbox', { name: 'Personal computer' }).check();
    await page.getByRole('button', { name: 'Create campaign' }).click();
    await page.getByText('Some fields need attention').waitFor();
    const base = field('Base bid (CPM)');
    expect(await base.getAttribute('aria-invalid')).toBe('true');
    expect(await field('Countries').getAttribute('aria-invalid')).toBe('true');
    // The message sits next to the field and is tied to it.
    const described = (await base.getAttribute('aria-describedby'))!.split(' ').find((id) => id.endsWith('-err'))!;
    expect(await page.locator(`[id="${described}"]`).textContent()).toMatch(/number/);
    expect(await field('Max bid (CPM)').getAttribute('aria-invalid')).toBeNull();
    // Nothing typed was lost.
    expect(await base.inputValue()).toBe('two');
    expect(await field('Name').inputValue()).toBe('Fabrikam billboards');
    expect(await page.getByRole('checkbox', { name: 'Personal computer' }).isChecked()).toBe(true);
    await axe('campaign form with errors');
    await shot('campaign-errors');

    await base.fill('2');
    await field('Countries').fill('USA');
    await field('Advertiser domains').fill('fabrikam.example');
    await page.getByRole('button', { name: 'Create campaign' }).click();
    await page.getByRole('heading', { level: 1, name: 'Fabrikam billboards' }).waitFor();
    await page.getByText('create', { exact: true }).waitFor(); // its history
    expect(await page.locator('.history').textContent()).toMatch(/create by Fabrikam team \(advertiser\)/);
    expect(await field('Countries').inputValue()).toBe('USA');
    await axe('campaign edit and history');

    await go('#/creatives/new?campaign=cmp-fabrikam-billboard', 'New creative');
    await field('Id').fill('cr-fabrikam-970');
    await field('Name').fill('Fabrikam 970x250');
    await field('Width').fill('970');
    await field('Height').fill('250');
    await field('HTML')
      .fill('<div style="width:970px;height:250px;background:linear-gradient(90deg,#0b3d91,#2a7de1);color:#fff;font:700 48px sans-serif;display:flex;align-items:center;justify-content:center">Fabrikam: fly further</div>');
    await axe('creative form');
    await page.getByRole('button', { name: 'Create creative' }).click();
    await page.getByRole('heading', { level: 1, name: 'Fabrikam 970x250' }).waitFor();
    await page.getByText('pending', { exact: true }).waitFor();
    // The preview is sandboxed: scripts at most, never this page's origin.
    expect(await page.locator('iframe.banner-preview').getAttribute('sandbox')).toBe('allow-scripts');
    await axe('creative');

    // A video creative: its VAST's media file plays in the preview.
    await go('#/creatives/new?campaign=cmp-fabrikam-billboard', 'New creative');
    await field('Type').selectOption('video');
    await field('Id').fill('cr-fabrikam-video');
    await field('Name').fill('Fabrikam 15s spot');
    await field('Duration (seconds)').fill('15');
    await field('MIME types').fill('video/mp4');
    await field('VAST protocols').fill('2, 3');
    await field('VAST XML').fill(VAST);
    await page.getByRole('button', { name: 'Create creative' }).click();
    await page.getByRole('heading', { level: 1, name: 'Fabrikam 15s spot' }).waitFor();
    expect(await page.locator('video').getAttribute('src')).toBe(MEDIA);
    await axe('video creative');
  }, 50_000);

  it('the operator approves it from the review queue, and a bid request gets the bid', async () => {
    expect((await bidder.post('/bid', billboard('before'))).status).toBe(204);
    await signIn(TEST_ADMIN_KEY);
    await page.getByRole('link', { name: 'Creatives' }).click();
    await page.getByRole('heading', { level: 2, name: 'Waiting for review' }).waitFor();
    await page.getByRole('link', { name: 'Fabrikam 970x250' }).waitFor();
    await axe('review queue');
    await shot('review-queue');
    await page.getByRole('link', { name: 'Fabrikam 970x250' }).click();
    await page.getByRole('button', { name: 'Approve' }).click();
    await page.getByText('Approved: it can bid now.').waitFor();
    await shot('creative');
    // The video one is rejected: not without a reason, which the advertiser then sees.
    await go('#/creatives', 'Creatives');
    await page.getByRole('link', { name: 'Fabrikam 15s spot' }).click();
    await page.getByRole('heading', { level: 1, name: 'Fabrikam 15s spot' }).waitFor();
    await page.getByRole('button', { name: 'Reject' }).click();
    expect(await field('Reason (required to reject)').getAttribute('aria-invalid')).toBe('true');
    await field('Reason (required to reject)').fill('The landing page is missing.');
    await page.getByRole('button', { name: 'Reject' }).click();
    await page.getByText('Rejected.').waitFor();
    expect((await bidder.get('/api/v1/creatives/cr-fabrikam-video', true)).json()).toMatchObject({ status: 'rejected', reason: 'The landing page is missing.' });

    let bid: any;
    expect(
      await until(async () => {
        const r = await bidder.post('/bid', billboard(`after-${Date.now()}`));
        if (r.status === 200) bid = r.json().seatbid[0].bid[0];
        return r.status === 200;
      }, 15_000),
    ).toBe(true);
    expect(bid).toMatchObject({ crid: 'cr-fabrikam-970', cid: 'cmp-fabrikam-billboard', w: 970, h: 250 });
    // The exchange reports the win and the billing at 1.50 CPM.
    for (const url of [bid.nurl, bid.burl].filter(Boolean)) {
      const r = await httpRequest(bidder.port, 'GET', pathOf(substitute(url, { price: '1.5' })));
      expect(r.status, url).toBeLessThan(300);
    }
    // Another advertiser's bid (a demo campaign's, 300x250), which the advertiser must never see.
    const other = await bidder.post('/bid', { ...billboard('other'), imp: [{ id: '1', banner: { w: 300, h: 250 }, bidfloor: 0.1 }] });
    expect(other.status).toBe(200);
    expect(other.json().seatbid[0].bid[0].cid).not.toBe('cmp-fabrikam-billboard');
  }, 50_000);

  it('the advertiser sees its report move, with a chart, a table and a CSV, and never another advertiser\'s data', async () => {
    await signIn(advertiserKey);
    await page.getByRole('link', { name: 'Reports' }).click();
    await page.getByRole('heading', { level: 1, name: 'Reports' }).waitFor();
    // The events reach the store within a couple of seconds (the writer's batches).
    const row = page.getByRole('row', { name: /cmp-fabrikam-billboard/ });
    const deadline = Date.now() + 40_000;
    while (!(await row.isVisible()) || !/0\.0015/.test((await row.textContent()) ?? '')) {
      if (Date.now() > deadline) throw new Error(`the report did not move: ${await page.locator('main').textContent()}`);
      await page.waitForTimeout(500);
      await page.getByRole('button', { name: 'Show' }).click();
    }
    expect(await row.textContent()).toMatch(/^cmp-fabrikam-billboard11100\.0 %.*0\.0015/); // 1 bid, 1 win; spend 1.50 CPM / 1000
    const rows = await page.getByRole('table', { name: 'Report by campaign' }).locator('tbody tr').allTextContents();
    expect(rows).toHaveLength(1); // its own campaign only
    await page.locator('.chart canvas').first().waitFor();
    const csv = page.waitForEvent('download');
    await page.getByRole('button', { name: 'Download CSV' }).click();
    const download = await csv;
    const text = await (await download.createReadStream()).toArray().then((c) => Buffer.concat(c).toString());
    expect(text.split('\r\n')[0]).toMatch(/^campaign,day,requests,bids,wins/);
    expect(text).toContain('cmp-fabrikam-billboard');
    expect(text).not.toMatch(/cmp-acme/);
    await axe('reports');
    await shot('reports');

    // The table by placement (the bid request's site), its own CSV, and blocking the worst placements.
    await field('Table by').selectOption('placement');
    await page.getByRole('button', { name: 'Show' }).click();
    const placement = page.getByRole('table', { name: 'Report by placement' }).getByRole('row', { name: /news\.example/ });
    await placement.waitFor();
    expect(await placement.textContent()).toMatch(/^news\.examplesite11100\.0 %/);
    const placementCsv = page.waitForEvent('download');
    await page.getByRole('button', { name: 'Download CSV' }).click();
    const ptext = await (await (await placementCsv).createReadStream()).toArray().then((c) => Buffer.concat(c).toString());
    expect(ptext.split('\r\n')[0]).toMatch(/^placement,placementType,day,requests,bids,wins/);
    expect(ptext).toMatch(/\r\nnews\.example,site,/);
    await field('How many').fill('1');
    await field('Minimum impressions').fill('0');
    await page.getByRole('button', { name: 'Block worst placements' }).click();
    await page.getByText('Blocked 1 placement: news.example.').waitFor();
    const blocked = await bidder.get('/api/v1/campaigns/cmp-fabrikam-billboard', true);
    expect(blocked.json().targeting.domains.block).toEqual(['news.example']);
    await axe('reports by placement');
    await shot('reports-placements');

    // Another advertiser's campaign and creative answer as missing ones do.
    await go('#/campaigns/cmp-acme-ron', 'Campaign');
    await page.getByText('no campaign "cmp-acme-ron"').waitFor();
    await go('#/creatives/cr-acme-300x250', 'Creative');
    await page.getByRole('alert').waitFor();
    expect(await page.locator('main').textContent()).not.toMatch(/acmeshoes/);
    // The operator's screens are not offered, and the API refuses them anyway.
    expect(await page.getByRole('link', { name: 'API keys' }).count()).toBe(0);
    await go('#/ops/keys', 'Not available');
  }, 90_000);

  it('audiences: the advertiser creates one and uploads members with a progress bar', async () => {
    await go('#/creatives', 'Creatives');
    await page.getByRole('link', { name: 'Fabrikam 970x250' }).waitFor();
    expect(await page.getByRole('row', { name: /Fabrikam 15s spot/ }).textContent()).toMatch(/rejected.*The landing page is missing\./);
    expect(await page.getByRole('link', { name: /cr-acme|Acme/ }).count()).toBe(0);
    await axe('creatives (advertiser)');
    await go('#/audiences', 'Audiences');
    await field('Id').fill('fabrikam-buyers');
    await field('Name').fill('Fabrikam buyers');
    await page.getByRole('button', { name: 'Create audience' }).click();
    await page.getByRole('cell', { name: /Fabrikam buyers/ }).waitFor();
    const csv = 'user_id,id_type,segments\n' + Array.from({ length: 2000 }, (_, i) => `u-${i},uid,`).join('\n') + '\n';
    await field('CSV file').setInputFiles({ name: 'buyers.csv', mimeType: 'text/csv', buffer: Buffer.from(csv) });
    await page.getByRole('button', { name: 'Upload' }).click();
    await page.getByText('Added 2,000 members; 0 rows refused.').waitFor();
    expect(await page.locator('progress').getAttribute('value')).toBe('100');
    await axe('audiences');

    // A rule audience: a field error next to its field, nothing typed lost, then created.
    await field('Id').fill('fabrikam-carts');
    await field('Name').fill('Fabrikam carts');
    await field('Built from').selectOption('rule');
    await field('Events').fill('add_to_cart');
    await field('But not these events').fill('purchase');
    await field('Lookback (days)').fill('0');
    await page.getByRole('button', { name: 'Create audience' }).click();
    await page.getByText('Some fields need attention').waitFor();
    expect(await field('Lookback (days)').getAttribute('aria-invalid')).toBe('true');
    expect(await field('Events').inputValue()).toBe('add_to_cart');
    await field('Lookback (days)').fill('14');
    await page.getByRole('button', { name: 'Create audience' }).click();
    await page.getByRole('cell', { name: 'rule: pixel add_to_cart, not purchase, last 14 days' }).waitFor();
    // A lookalike of the uploaded segment.
    await field('Id').fill('fabrikam-like-buyers');
    await field('Name').fill('Like Fabrikam buyers');
    await field('Built from').selectOption('lookalike');
    await field('Seed segment').selectOption('fabrikam-buyers');
    await field('Size (users)').fill('5000');
    await page.getByRole('button', { name: 'Create audience' }).click();
    await page.getByRole('cell', { name: 'lookalike of fabrikam-buyers: 5,000 users, rebuilt every 24 h' }).waitFor();
    // Members go to uploaded segments only.
    expect(await field('Segment').locator('option').allTextContents()).toEqual(['Fabrikam buyers (fabrikam-buyers)']);
    // The advertiser's pixel snippet.
    expect(await page.getByLabel('Snippet for adv-fabrikam').inputValue()).toContain('/px/adv-fabrikam/');
    await axe('audiences (rule, lookalike, pixel)');
    await shot('audiences');

    // Edit the rule audience.
    await page.getByRole('link', { name: 'Fabrikam carts' }).click();
    await page.getByRole('heading', { level: 1, name: 'Fabrikam carts' }).waitFor();
    await field('Lookback (days)').fill('30');
    await page.getByRole('button', { name: 'Save changes' }).click();
    await page.getByText('Saved.').waitFor();
    await page.getByText('pixel add_to_cart, not purchase, last 30 days').waitFor();
    const rule = await bidder.get('/api/v1/audiences/fabrikam-carts', true);
    expect(rule.json()).toMatchObject({ advertiserId: 'adv-fabrikam', rule: { source: 'pixel', events: ['add_to_cart'], excludeEvents: ['purchase'], lookbackDays: 30 } });
    await axe('audience edit');
  }, 60_000);

  it('the targeting editor covers the rest of the rules and the goal, with inline errors; an edit made meanwhile is refused, not overwritten', async () => {
    const id = 'cmp-fabrikam-billboard';
    await go(`#/campaigns/${id}`, 'Fabrikam billboards');
    await field('Device makes').fill('Apple, Samsung');
    await field('Device models').fill('iPhone');
    await field('Carriers').fill('Orange');
    await page.getByRole('checkbox', { name: 'Wi-Fi' }).check();
    await page.getByRole('checkbox', { name: 'Instream' }).check();
    await field('Goal').selectOption('cpc');
    await field('Target').fill('0.4');
    await field('Explore share').fill('0.9');
    await page.getByRole('button', { name: 'Save changes' }).click();
    await page.getByText('Some fields need attention').waitFor();
    expect(await field('Explore share').getAttribute('aria-invalid')).toBe('true');
    expect(await field('Target').getAttribute('aria-invalid')).toBeNull();
    // The API's reference check: an exchange that does not exist, next to the exchanges field.
    await field('Explore share').fill('0.1');
    await field('Never these exchanges').fill('nowhere');
    await page.getByRole('button', { name: 'Save changes' }).click();
    await page.getByText('no exchange "nowhere"').first().waitFor();
    expect(await field('Never these exchanges').getAttribute('aria-invalid')).toBe('true');
    expect(await field('Explore share').getAttribute('aria-invalid')).toBeNull();
    await axe('campaign targeting with errors');
    await shot('campaign-targeting');
    await field('Never these exchanges').fill('');

    // Someone else renames the campaign meanwhile: the save is refused and says so, and the edits stay.
    const other = await httpRequest(bidder.adminPort, 'PATCH', `/api/v1/campaigns/${id}`, JSON.stringify({ name: 'Renamed meanwhile' }), {
      authorization: `Bearer ${TEST_ADMIN_KEY}`,
      'content-type': 'application/merge-patch+json',
    });
    expect(other.status).toBe(200);
    await page.getByRole('button', { name: 'Save changes' }).click();
    await page.getByText(/Someone changed this campaign after you opened it/).waitFor();
    expect(await field('Device makes').inputValue()).toBe('Apple, Samsung');
    expect(await page.getByRole('checkbox', { name: 'Wi-Fi' }).isChecked()).toBe(true);
    expect((await bidder.get(`/api/v1/campaigns/${id}`, true)).json()).toMatchObject({ name: 'Renamed meanwhile' });
    expect((await bidder.get(`/api/v1/campaigns/${id}`, true)).json().targeting.deviceMakes).toBeUndefined();
    await axe('campaign conflict');

    // Reloaded, the form shows the other change; the edit made again is saved.
    await page.reload();
    await page.getByRole('heading', { level: 1, name: 'Renamed meanwhile' }).waitFor();
    await field('Device makes').fill('Apple, Samsung');
    await field('Carriers').fill('Orange');
    await page.getByRole('checkbox', { name: 'Wi-Fi' }).check();
    await page.getByRole('checkbox', { name: 'Instream' }).check();
    await field('Goal').selectOption('cpc');
    await field('Target').fill('0.4');
    await field('Explore share').fill('0.1');
    await page.getByRole('button', { name: 'Save changes' }).click();
    await page.getByText('Saved.').waitFor();
    const saved = (await bidder.get(`/api/v1/campaigns/${id}`, true)).json();
    expect(saved).toMatchObject({ name: 'Renamed meanwhile', goal: { type: 'cpc', target: 0.4, explore: 0.1 } });
    expect(saved.targeting).toMatchObject({
      deviceMakes: ['Apple', 'Samsung'],
      carriers: ['Orange'],
      connectionTypes: [2],
      videoPlacements: [1],
      domains: { block: ['news.example'] }, // the blocked placement, kept
      countries: ['USA'],
    });
    // The saved form shows what was saved.
    expect(await field('Device makes').inputValue()).toBe('Apple, Samsung');
    expect(await page.getByRole('checkbox', { name: 'Instream' }).isChecked()).toBe(true);
  }, 60_000);

  it('the operator: campaigns with today\'s numbers, the audit log, exchanges and the kill switch', async () => {
    await signIn(TEST_ADMIN_KEY);
    const row = page.getByRole('row', { name: /Renamed meanwhile/ });
    await row.waitFor();
    expect(await row.textContent()).toMatch(/adv-fabrikam/);
    await shot('campaigns');
    await go('#/ops/audit', 'Audit log');
    await page.getByRole('cell', { name: 'approve' }).first().waitFor();
    expect(await page.getByRole('row', { name: /approve/ }).first().textContent()).toContain('DSP_ADMIN_KEY (admin)');
    await axe('audit log');
    await go('#/ops/exchanges', 'Exchanges');
    await page.getByRole('cell', { name: 'Any OpenRTB 2.5/2.6 exchange default' }).waitFor();
    await axe('exchanges');
    await go('#/ops/kill-switch', 'Kill switch');
    await page.getByText('Bidding runs.').waitFor();
    await axe('kill switch');
    // Stop one campaign and release it again.
    await field('Campaign id').fill('cmp-fabrikam-billboard');
    await page.getByRole('button', { name: 'Stop this campaign' }).click();
    await page.getByText('stopped').waitFor();
    await page.getByRole('button', { name: 'Release' }).click();
    await page.getByText('No campaign is stopped.').waitFor();
    // Stop all bidding (after a confirmation): a demo campaign that bids stops bidding, and bids again once resumed.
    const demo = () => bidder.post('/bid', { ...billboard(`kill-${Date.now()}`), imp: [{ id: '1', banner: { w: 300, h: 250 }, bidfloor: 0.1 }] });
    expect((await demo()).status).toBe(200);
    page.once('dialog', (d) => void d.accept());
    await page.getByRole('button', { name: 'Stop all bidding' }).click();
    await page.getByText('All bidding is stopped.').waitFor();
    expect((await bidder.get('/api/v1/kill-switch', true)).json()).toEqual({ all: true, campaigns: [] });
    expect(await until(async () => (await demo()).status === 204, 10_000)).toBe(true);
    await page.getByRole('button', { name: 'Resume all bidding' }).click();
    await page.getByText('Bidding runs.').waitFor();
    expect(await until(async () => (await demo()).status === 200, 10_000)).toBe(true);

    // Keyboard: the skip link is the first stop and moves focus to the content.
    await page.goto(`${base}/#/campaigns`);
    await page.reload();
    await page.getByRole('heading', { level: 1, name: 'Campaigns' }).waitFor();
    await page.keyboard.press('Tab');
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe('Skip to content');
    await page.keyboard.press('Enter');
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('main');
    // Navigating moves focus to the new screen's heading.
    await page.getByRole('link', { name: 'Reports' }).focus();
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { level: 1, name: 'Reports' }).waitFor();
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe('Reports');

    // The browser never touched the bid port; on the admin port it asked for the console's files and
    // the public API only; elsewhere, only for the video creative's own media file.
    const urls = requested.map((u) => new URL(u));
    expect(urls.filter((u) => u.port === String(bidder.port))).toEqual([]);
    const admin = urls.filter((u) => u.host === `127.0.0.1:${bidder.adminPort}`);
    const paths = new Set(admin.map((u) => u.pathname));
    expect([...paths].filter((p) => p !== '/' && !p.startsWith('/assets/') && !p.startsWith('/api/v1/'))).toEqual([]);
    expect([...new Set(urls.filter((u) => !admin.includes(u)).map((u) => u.href))].filter((h) => h !== MEDIA)).toEqual([]);
    expect([...paths]).toContain('/api/v1/kill-switch');
  }, 80_000);
});
