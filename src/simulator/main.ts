/**
 * `npm run simulate -- [options]`: the mock exchange as a command. See simulate.ts and the README
 * ("Exchange simulator").
 */
import { parseArgs } from 'node:util';
import { DEFAULT_COMPETITORS } from './auction.js';
import { DEFAULT_OPTIONS, NOTICE_KINDS, NOTICE_MODES, checkLocal, runSimulation, type NoticeKind, type NoticeMode, type Range, type SimulationSummary } from './simulate.js';

const HELP = `npm run simulate -- [options]

  --bidder <url>[,<url>...]   the bidder's exchange-facing base URL (default http://127.0.0.1:8080); 127.0.0.1/localhost only;
                              several instances: requests go round-robin over them
  --notices sticky|balanced   sticky (default): each notice to the URL it names; balanced: each to one of the --bidder
                              instances at random, as through one load-balanced notice address
  --exchange <id>             send to /bid/<id> instead of /bid
  --notice-origin <url>       call notice URLs (paths /notice/...) on this local origin instead of the host they name
  --rate <req/s>              bid requests per second (default ${DEFAULT_OPTIONS.rate})
  --duration <s>              how long to send (default ${DEFAULT_OPTIONS.durationS}); notices still due are sent after it
  --auction first|second      auction type (default ${DEFAULT_OPTIONS.auction})
  --competitors <n>           other bidders per impression (default ${DEFAULT_COMPETITORS.competitors})
  --competitor-bid-prob <p>   chance that each one bids (default ${DEFAULT_COMPETITORS.bidProbability})
  --competitor-median <x>     their median bid as a multiple of the floor (default ${DEFAULT_COMPETITORS.medianOverFloor})
  --competitor-sigma <s>      spread of their log-normal bids (default ${DEFAULT_COMPETITORS.sigma})
  --win-prob <p>              win notice (nurl) per win (default ${DEFAULT_OPTIONS.probabilities.win})
  --loss-prob <p>             loss notice (lurl) per lost bid (default ${DEFAULT_OPTIONS.probabilities.loss})
  --impression-prob <p>       impression pixel per win (default ${DEFAULT_OPTIONS.probabilities.impression})
  --billing-prob <p>          billing notice (burl) per rendered impression (default ${DEFAULT_OPTIONS.probabilities.billing})
  --click-prob <p>            click per impression (default ${DEFAULT_OPTIONS.probabilities.click})
  --win-delay <ms[-ms]>       after the auction (default ${DEFAULT_OPTIONS.delaysMs.win.join('-')})
  --loss-delay <ms[-ms]>      after the auction (default ${DEFAULT_OPTIONS.delaysMs.loss.join('-')})
  --impression-delay <ms[-ms]> after the win (default ${DEFAULT_OPTIONS.delaysMs.impression.join('-')})
  --billing-delay <ms[-ms]>   after the win (default ${DEFAULT_OPTIONS.delaysMs.billing.join('-')})
  --click-delay <ms[-ms]>     after the impression (default ${DEFAULT_OPTIONS.delaysMs.click.join('-')})
  --users <n>                 user population of the requests (default ${DEFAULT_OPTIONS.users})
  --floor-scale <x>           multiply every floor (default 1)
  --seed <s>                  request and auction seed (default ${DEFAULT_OPTIONS.seed})
  --json                      print the summary as JSON
`;

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      bidder: { type: 'string' },
      exchange: { type: 'string' },
      'notice-origin': { type: 'string' },
      notices: { type: 'string' },
      rate: { type: 'string' },
      duration: { type: 'string' },
      auction: { type: 'string' },
      competitors: { type: 'string' },
      'competitor-bid-prob': { type: 'string' },
      'competitor-median': { type: 'string' },
      'competitor-sigma': { type: 'string' },
      'win-prob': { type: 'string' },
      'loss-prob': { type: 'string' },
      'impression-prob': { type: 'string' },
      'billing-prob': { type: 'string' },
      'click-prob': { type: 'string' },
      'win-delay': { type: 'string' },
      'loss-delay': { type: 'string' },
      'impression-delay': { type: 'string' },
      'billing-delay': { type: 'string' },
      'click-delay': { type: 'string' },
      users: { type: 'string' },
      'floor-scale': { type: 'string' },
      seed: { type: 'string' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  const num = (name: string, raw: string | undefined, def: number, min: number, max: number): number => {
    if (raw === undefined) return def;
    const n = Number(raw);
    if (!Number.isFinite(n) || n < min || n > max) throw new Error(`--${name} must be a number from ${min} to ${max}`);
    return n;
  };
  const range = (name: string, raw: string | undefined, def: Range): Range => {
    if (raw === undefined) return def;
    const m = /^(\d+(?:\.\d+)?)(?:-(\d+(?:\.\d+)?))?$/.exec(raw.trim());
    if (!m) throw new Error(`--${name} is <ms> or <min>-<max>`);
    const a = Number(m[1]);
    const b = m[2] === undefined ? a : Number(m[2]);
    if (b < a) throw new Error(`--${name}: max below min`);
    return [a, b];
  };
  const auction = values.auction ?? DEFAULT_OPTIONS.auction;
  if (auction !== 'first' && auction !== 'second') throw new Error('--auction is first or second');
  const [bidder, ...moreBidders] = (values.bidder ?? 'http://127.0.0.1:8080').split(',').map((b) => b.trim());
  for (const b of [bidder, ...moreBidders]) checkLocal(b);
  const noticeMode = (values.notices ?? DEFAULT_OPTIONS.noticeMode) as NoticeMode;
  if (!NOTICE_MODES.includes(noticeMode)) throw new Error(`--notices is ${NOTICE_MODES.join(' or ')}`);
  const p = DEFAULT_OPTIONS.probabilities;
  const d = DEFAULT_OPTIONS.delaysMs;
  const probabilities = {
    win: num('win-prob', values['win-prob'], p.win, 0, 1),
    loss: num('loss-prob', values['loss-prob'], p.loss, 0, 1),
    impression: num('impression-prob', values['impression-prob'], p.impression, 0, 1),
    billing: num('billing-prob', values['billing-prob'], p.billing, 0, 1),
    click: num('click-prob', values['click-prob'], p.click, 0, 1),
  };
  const delaysMs = {
    win: range('win-delay', values['win-delay'], d.win),
    loss: range('loss-delay', values['loss-delay'], d.loss),
    impression: range('impression-delay', values['impression-delay'], d.impression),
    billing: range('billing-delay', values['billing-delay'], d.billing),
    click: range('click-delay', values['click-delay'], d.click),
  };
  const controller = new AbortController();
  let interrupted = false;
  const onSignal = () => {
    if (interrupted) process.exit(130);
    interrupted = true;
    process.stderr.write('\nstopping: no more requests; sending the notices still due (again to quit at once)\n');
    controller.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const json = values.json ?? false;
  const rate = num('rate', values.rate, DEFAULT_OPTIONS.rate, 0.1, 1_000_000);
  const durationS = num('duration', values.duration, DEFAULT_OPTIONS.durationS, 0.1, 7 * 24 * 3600);
  const to = moreBidders.length > 0 ? `${moreBidders.length + 1} instances (${bidder}, ...), notices ${noticeMode}` : bidder;
  process.stderr.write(`simulating an exchange: ${rate} req/s for ${durationS} s to ${to}${values.exchange ? ` (exchange ${values.exchange})` : ''}, ${auction}-price auction\n`);
  return runSimulation({
    bidder,
    moreBidders,
    noticeMode,
    exchange: values.exchange,
    noticeOrigin: values['notice-origin'],
    rate,
    durationS,
    auction,
    competitors: {
      ...DEFAULT_COMPETITORS,
      competitors: num('competitors', values.competitors, DEFAULT_COMPETITORS.competitors, 0, 1000),
      bidProbability: num('competitor-bid-prob', values['competitor-bid-prob'], DEFAULT_COMPETITORS.bidProbability, 0, 1),
      medianOverFloor: num('competitor-median', values['competitor-median'], DEFAULT_COMPETITORS.medianOverFloor, 0.01, 100),
      sigma: num('competitor-sigma', values['competitor-sigma'], DEFAULT_COMPETITORS.sigma, 0, 10),
    },
    users: num('users', values.users, DEFAULT_OPTIONS.users, 0, 1e9),
    floorScale: num('floor-scale', values['floor-scale'], 1, 0, 10_000),
    seed: values.seed ?? String(DEFAULT_OPTIONS.seed),
    probabilities,
    delaysMs,
    signal: controller.signal,
    onProgress: (s) =>
      process.stderr.write(
        `  ${s.seconds.toFixed(0).padStart(4)} s  sent ${s.requests.sent}  answered ${s.requests.answered}  bids ${s.bids}  wins ${s.wins}  notices ${NOTICE_KINDS.map((k) => s.notices[k].sent).reduce((a, b) => a + b, 0)}\n`,
      ),
  }).then((s) => {
    process.stdout.write(json ? `${JSON.stringify(s, null, 2)}\n` : render(s));
    return 0;
  });
}

function render(s: SimulationSummary): string {
  const st = (r: Record<string, number>) =>
    Object.entries(r)
      .sort()
      .map(([k, v]) => `${k}: ${v}`)
      .join(', ') || '-';
  const lines = [
    '',
    `requests   ${s.requests.sent} sent in ${s.seconds} s (${s.requests.achieved_rate}/s)${s.requests.skipped ? `, ${s.requests.skipped} skipped (too many in flight)` : ''}; answers ${st(s.requests.statuses)}; ${s.requests.late} later than tmax`,
    `latency    p50 ${s.latency_ms.p50} ms, p99 ${s.latency_ms.p99} ms, max ${s.latency_ms.max} ms`,
    `auctions   ${s.imps} imps, ${s.bids} bids from us (${s.invalid_bids} invalid), ${s.wins} won, ${s.losses} lost (win rate ${(s.win_rate * 100).toFixed(1)} %); others won ${s.others_won}, unsold ${s.unsold}`,
    `money      spend ${s.spend.toFixed(4)} ${s.currency} (billed), avg bid ${s.avg_bid_cpm} CPM, avg clearing ${s.avg_clearing_cpm} CPM`,
    `notices    ${NOTICE_KINDS.map((k: NoticeKind) => `${k} ${s.notices[k].sent} (${st(s.notices[k].statuses)})${s.notices[k].skipped_external ? ` +${s.notices[k].skipped_external} external skipped` : ''}`).join('\n           ')}`,
    ...(s.wins_without_pixel ? [`           ${s.wins_without_pixel} wins had no impression pixel of ours (secure imps with an http NOTICE_BASE_URL, or none in the markup)`] : []),
    '',
  ];
  return lines.join('\n');
}

main().then(
  (code) => process.exit(code),
  (e: Error) => {
    process.stderr.write(`${e.message}\n`);
    process.exit(2);
  },
);
