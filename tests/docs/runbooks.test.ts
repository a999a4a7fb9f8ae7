/**
 * Every Prometheus alert links its runbook: annotations.runbook_url is a path in this repository to a
 * heading of docs/operations.md (or another doc), and that heading exists.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { brokenReason, ROOT } from './markdown.js';

interface Rule {
  alert?: string;
  record?: string;
  annotations?: Record<string, string>;
}

const RULE_FILES = ['deploy/prometheus/rules/bidder-alerts.yml', 'deploy/prometheus/rules/bidder-recording.yml'];

function alerts(): { file: string; rule: Rule }[] {
  const out: { file: string; rule: Rule }[] = [];
  for (const file of RULE_FILES) {
    const doc = parse(readFileSync(join(ROOT, file), 'utf8')) as { groups: { rules: Rule[] }[] };
    for (const g of doc.groups) for (const rule of g.rules) if (rule.alert) out.push({ file, rule });
  }
  return out;
}

describe('alert runbooks', () => {
  it('every alert has a runbook_url that resolves to its own runbook', () => {
    const all = alerts();
    expect(all.length).toBeGreaterThanOrEqual(19);
    const problems: string[] = [];
    for (const { file, rule } of all) {
      const url = rule.annotations?.runbook_url;
      if (!url) {
        problems.push(`${rule.alert}: no annotations.runbook_url`);
        continue;
      }
      if (!/^docs\/[\w-]+\.md#[\w-]+$/.test(url)) {
        problems.push(`${rule.alert}: runbook_url ${url} is not docs/<file>.md#<anchor>`);
        continue;
      }
      // The runbook is the alert's own section, not any heading.
      if (url.split('#')[1] !== rule.alert!.toLowerCase()) problems.push(`${rule.alert}: runbook_url ${url} names another section`);
      const why = brokenReason({ file: 'README.md', line: 0, target: url });
      if (why) problems.push(`${rule.alert} (${file}): ${why}`);
    }
    expect(problems).toEqual([]);
  });

  it('every runbook describes what the alert means and what to do', () => {
    const text = readFileSync(join(ROOT, 'docs/operations.md'), 'utf8');
    for (const { rule } of alerts()) {
      const start = text.indexOf(`\n### ${rule.alert}\n`);
      expect(start, `runbook for ${rule.alert}`).toBeGreaterThan(0);
      const section = text.slice(start + 1, text.indexOf('\n#', start + 2));
      expect(section, rule.alert).toMatch(/\*\*Means:\*\*/);
      expect(section, rule.alert).toMatch(/\*\*(Act|Check and act|Act first):?\*\*/);
    }
  });
});
