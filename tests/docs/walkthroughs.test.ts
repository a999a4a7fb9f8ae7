/**
 * The curl walkthroughs of the docs run as written, against the built bidder started as a process
 * (embedded mode, the demo config/). A walkthrough is the ```sh blocks between
 * `<!-- walkthrough: name -->` and `<!-- /walkthrough -->`. Each block runs in bash with `set -eo pipefail`;
 * the one change made to its text is the ports: `localhost:8080` and `localhost:8081` become the test
 * bidder's bid and admin ports. The comment lines right after a command that show an answer
 * (`# {…}`, `# HTTP/1.1 …`, `# → …`, with `#  ` continuation lines) are checked against that command's
 * output: every piece between `…` (and, on a status line, between runs of 3+ spaces) must appear in it.
 * Requires the build (`npx tsc -p tsconfig.build.json`).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BidderProcess, TEST_ADMIN_KEY } from '../helpers/bidder-process.js';
import { markdownFiles, ROOT, walkthroughsOf, type Walkthrough } from './markdown.js';

export interface Step {
  command: string;
  expected: string[];
}

const ANSWER = /^#\s?(\{|HTTP\/|→ )/;

/** A block as commands (continuation lines, open quotes and here-documents kept together) and the answers shown after each. */
export function stepsOf(block: string): Step[] {
  const lines = block.split('\n');
  const steps: Step[] = [];
  for (let i = 0; i < lines.length; ) {
    const line = lines[i];
    if (!line.trim() || line.trimStart().startsWith('#')) {
      i++;
      continue;
    }
    const cmd: string[] = [line];
    let heredoc = /<<-?\s*'?(\w+)'?/.exec(line)?.[1];
    let quotes = (line.replace(/"[^"]*"/g, '').match(/'/g) ?? []).length;
    i++;
    while (i < lines.length && (heredoc || quotes % 2 === 1 || cmd[cmd.length - 1].endsWith('\\'))) {
      const next = lines[i++];
      cmd.push(next);
      if (heredoc) {
        if (next.trim() === heredoc) heredoc = undefined;
        continue;
      }
      quotes += (next.replace(/"[^"]*"/g, '').match(/'/g) ?? []).length;
      heredoc = /<<-?\s*'?(\w+)'?/.exec(next)?.[1];
    }
    const expected: string[] = [];
    while (i < lines.length && (ANSWER.test(lines[i]) || (expected.length && /^#\s{2,}\S/.test(lines[i])))) {
      const text = lines[i++].replace(/^#\s?(→ )?/, '');
      if (expected.length && /^\s/.test(text)) expected[expected.length - 1] += text.trim();
      else expected.push(text.trim());
    }
    steps.push({ command: cmd.join('\n'), expected });
  }
  return steps;
}

/** The pieces of an answer that must appear in the output. */
export function piecesOf(expected: string): string[] {
  const parts = expected.startsWith('HTTP/') ? expected.split(/\s{3,}/) : [expected];
  return parts.flatMap((p) => p.split('…')).map((p) => p.trim()).filter((p) => p.length > 1);
}

function runWalkthrough(w: Walkthrough, bidder: BidderProcess): string[] {
  const dir = mkdtempSync(join(tmpdir(), 'walkthrough-'));
  const problems: string[] = [];
  try {
    const steps = w.blocks.flatMap((b) => stepsOf(b));
    const withPorts = (s: string) =>
      s.replaceAll('localhost:8080', `127.0.0.1:${bidder.port}`).replaceAll('localhost:8081', `127.0.0.1:${bidder.adminPort}`);
    const script = ['set -eo pipefail', ...steps.map((s, n) => `{ ${withPorts(s.command)}\n} > "$OUT/${n}" 2>&1`)].join('\n');
    writeFileSync(join(dir, 'run.sh'), script);
    const r = spawnSync('bash', [join(dir, 'run.sh')], {
      cwd: dir,
      env: { PATH: process.env.PATH, HOME: dir, OUT: dir, DSP_ADMIN_KEY: TEST_ADMIN_KEY },
      encoding: 'utf8',
      timeout: 60_000,
    });
    steps.forEach((s, n) => {
      let out: string;
      try {
        out = readFileSync(join(dir, String(n)), 'utf8');
      } catch {
        if (r.status === 0) problems.push(`step ${n + 1} did not run: ${s.command}`);
        return;
      }
      for (const e of s.expected)
        for (const piece of piecesOf(e))
          if (!out.toLowerCase().includes(piece.toLowerCase()))
            problems.push(`${w.file} (${w.name}) step ${n + 1}:\n  ${s.command}\n  expected ${JSON.stringify(piece)} in:\n  ${out}`);
    });
    if (r.status !== 0) problems.push(`${w.file} (${w.name}) stopped (exit ${r.status}): ${r.stderr}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return problems;
}

describe('doc walkthroughs', () => {
  const walkthroughs = markdownFiles().flatMap((f) => walkthroughsOf(f, readFileSync(join(ROOT, f), 'utf8')));
  let bidder: BidderProcess;
  let dataDir: string;

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'walkthrough-data-'));
    bidder = await BidderProcess.start({ CONFIG_DIR: join(ROOT, 'config'), DATA_DIR: dataDir, DEBUG_NOBID: '1' }, 30_000);
    // Warm the bid path up first: on a loaded machine a cold process's first requests can miss their deadline
    // (a 204), which is not what the walkthrough is about.
    const warm = { id: 'warm', imp: [{ id: '1', banner: { w: 300, h: 250 } }], site: { domain: 'warm.example' }, device: { ip: '203.0.113.7' } };
    for (let i = 0; i < 20; i++) await bidder.post('/bid', warm);
  }, 60_000);
  afterAll(async () => {
    await bidder?.terminate();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('finds the marked walkthroughs and their answers', () => {
    const names = walkthroughs.map((w) => w.name);
    expect(names).toEqual(expect.arrayContaining(['config-api', 'audiences']));
    for (const w of walkthroughs) expect(w.blocks.join('').length, w.name).toBeGreaterThan(0);
    const steps = walkthroughs.find((w) => w.name === 'config-api')!.blocks.flatMap(stepsOf);
    expect(steps.filter((s) => s.expected.length).length).toBeGreaterThanOrEqual(6);
  });

  it('splits commands and answers the way bash does (the parser itself)', () => {
    const steps = stepsOf(
      [
        "A=1",
        "curl -s x -d '{\"a\":1,",
        "  \"b\":2}'",
        '# {"a":1,…,',
        '#  "b":2}',
        '# a plain comment',
        "cat <<'X'",
        "it's",
        'X',
        '# → {"c":3}',
      ].join('\n'),
    );
    expect(steps.map((s) => s.command)).toEqual(['A=1', "curl -s x -d '{\"a\":1,\n  \"b\":2}'", "cat <<'X'\nit's\nX"]);
    expect(steps[1].expected).toEqual(['{"a":1,…,"b":2}']);
    expect(steps[2].expected).toEqual(['{"c":3}']);
    expect(piecesOf('HTTP/1.1 201 Created   etag: "1"   location: /x')).toEqual(['HTTP/1.1 201 Created', 'etag: "1"', 'location: /x']);
  });

  // One bidder for all walkthroughs: they run in document order and use distinct ids.
  it('runs every walkthrough and gets the answers it shows', () => {
    const problems = walkthroughs.flatMap((w) => runWalkthrough(w, bidder));
    expect(problems).toEqual([]);
  }, 120_000);
});
