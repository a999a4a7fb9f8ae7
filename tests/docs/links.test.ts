/**
 * Every relative link and image in README.md and docs/ resolves: the file exists and, for an anchor,
 * the target has that heading (GitHub's anchors) or an explicit <a id>.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { anchorsOf, brokenReason, markdownFiles, relativeLinks, ROOT, slug } from './markdown.js';

describe('documentation links', () => {
  const files = markdownFiles();

  it('covers the README and the docs folder', () => {
    expect(files).toContain('README.md');
    expect(files).toContain('docs/operations.md');
    expect(files.length).toBeGreaterThan(8);
  });

  it('keeps the README short (at most 200 lines)', () => {
    expect(readFileSync(join(ROOT, 'README.md'), 'utf8').trimEnd().split('\n').length).toBeLessThanOrEqual(200);
  });

  it('resolves every relative link and anchor', () => {
    const broken: string[] = [];
    let count = 0;
    for (const file of files) {
      for (const link of relativeLinks(file, readFileSync(join(ROOT, file), 'utf8'))) {
        count++;
        const why = brokenReason(link);
        if (why) broken.push(`${file}:${link.line} (${link.target}): ${why}`);
      }
    }
    expect(broken).toEqual([]);
    expect(count).toBeGreaterThan(100);
  });

  it('finds broken ones (the checker itself)', () => {
    const docs: Record<string, string> = {
      'docs/a.md': '# A\n\n## Same\n\n## Same\n\n```sh\n# not a heading\n```\n<a id="custom"></a>\n',
    };
    const read = (p: string) => docs[p];
    const check = (target: string) => brokenReason({ file: 'docs/b.md', line: 1, target }, read);
    expect(check('a.md#same')).toBeUndefined();
    expect(check('a.md#same-1')).toBeUndefined();
    expect(check('a.md#custom')).toBeUndefined();
    expect(check('a.md#same-2')).toMatch(/no heading/);
    expect(check('a.md#not-a-heading')).toMatch(/no heading/);
    expect(check('missing.md')).toMatch(/does not exist/);
    expect(check('../../outside.md')).toMatch(/outside/);
    expect(relativeLinks('x.md', 'see [a](a.md#x), `[b](b.md)`, [c](https://c.example)\n```\n[d](d.md)\n```\n').map((l) => l.target)).toEqual(['a.md#x']);
    expect(slug('Walkthrough: from a new advertiser to its `first` bid')).toBe('walkthrough-from-a-new-advertiser-to-its-first-bid');
    expect(slug('Reports (admin port)')).toBe('reports-admin-port');
    expect([...anchorsOf('# T\n## Supported Node.js versions\n')]).toContain('supported-nodejs-versions');
  });
});
