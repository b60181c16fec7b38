// The published package as a user gets it: `npm pack`, install the tarball into a fresh
// project, then require() and import() it from child processes on this Node (the `engines`
// claim: require() of this ESM package works on Node ^20.19.0 || >=22.12.0, where require(esm)
// is unflagged), run its `vaegrad --version`, and check the tarball's LICENSE and source maps.

import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, posix, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../..');
const BUILT = existsSync(join(ROOT, 'dist/src/index.js'));
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string; engines: { node: string }; repository: { url: string }; homepage: string; bugs: { url: string }; license: string };

/** Does version a.b.c satisfy `^20.19.0 || >=22.12.0`-style ranges (the two forms used in engines)? */
function satisfies(version: string, range: string): boolean {
  const v = version.split('.').map(Number);
  const cmp = (w: number[]): number => v[0]! - w[0]! || v[1]! - w[1]! || v[2]! - w[2]!;
  return range.split('||').some((part) => {
    const p = part.trim();
    const m = /^(\^|>=)(\d+)\.(\d+)\.(\d+)$/.exec(p);
    if (!m) throw new Error(`unsupported range '${p}'`);
    const w = [Number(m[2]), Number(m[3]), Number(m[4])];
    return cmp(w) >= 0 && (m[1] === '>=' || v[0] === w[0]);
  });
}

describe('package metadata', () => {
  it('states license, repository, homepage, bugs and the Node versions require() works on', () => {
    expect(pkg.license).toBe('MIT');
    expect(readFileSync(join(ROOT, 'LICENSE'), 'utf8')).toMatch(/^MIT License\n\nCopyright \(c\) \d{4} vaegrad contributors/);
    expect(pkg.repository.url).toBe('git+https://github.com/vaegrad/vaegrad.git');
    expect(pkg.homepage).toMatch(/^https:\/\/github\.com\/vaegrad\/vaegrad/);
    expect(pkg.bugs.url).toBe('https://github.com/vaegrad/vaegrad/issues');
    expect(pkg.engines.node).toBe('^20.19.0 || >=22.12.0');
    expect(satisfies('20.19.0', pkg.engines.node)).toBe(true);
    expect(satisfies('20.18.3', pkg.engines.node)).toBe(false);
    expect(satisfies('21.7.0', pkg.engines.node)).toBe(false);
    expect(satisfies('22.11.0', pkg.engines.node)).toBe(false);
    expect(satisfies('22.12.0', pkg.engines.node)).toBe(true);
    expect(satisfies('24.1.0', pkg.engines.node)).toBe(true);
  });
});

describe.runIf(BUILT)('the packed package, installed', () => {
  let dir = '';
  let files: string[] = [];
  const node = (args: string[]): { out: string; err: string } => {
    const r = execFileSync(process.execPath, args, { cwd: join(dir, 'project'), encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    return { out: r, err: '' };
  };

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'vaegrad-pack-'));
    // --ignore-scripts: dist/ is already built (prepack would rebuild it)
    const packed = JSON.parse(execFileSync('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', dir], { cwd: ROOT, encoding: 'utf8' })) as { filename: string; files: { path: string }[] }[];
    files = packed[0]!.files.map((f) => f.path);
    const project = join(dir, 'project');
    execFileSync('mkdir', ['-p', project]);
    writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'user-project', version: '1.0.0', private: true }));
    execFileSync('npm', ['install', '--offline', '--no-audit', '--no-fund', '--ignore-scripts', join(dir, packed[0]!.filename)], { cwd: project, encoding: 'utf8' });
  }, 300_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it(`require('vaegrad') works on this Node (${process.versions.node}), inside the engines range`, () => {
    expect(satisfies(process.versions.node, pkg.engines.node)).toBe(true);
    const code = "const vg = require('vaegrad'); const { save } = require('vaegrad/node'); const { ConvVAE } = require('vaegrad/vae');" +
      "console.log(vg.tensor([1, 2]).add(1).toArray().join(','), typeof save, typeof ConvVAE, vg.getBackend())";
    expect(node(['-e', code]).out.trim()).toBe('2,3 function function wasm');
  });

  it("import('vaegrad') works too", () => {
    const code = "const vg = await import('vaegrad'); const { load } = await import('vaegrad/node'); console.log(vg.ones([2]).sum().item(), typeof load)";
    expect(node(['--input-type=module', '-e', code]).out.trim()).toBe('2 function');
  });

  it('vaegrad --version and -V print the package version', () => {
    const bin = join(dir, 'project', 'node_modules', '.bin', 'vaegrad');
    expect(execFileSync(bin, ['--version'], { encoding: 'utf8' }).trim()).toBe(pkg.version);
    expect(execFileSync(bin, ['-V'], { encoding: 'utf8' }).trim()).toBe(pkg.version);
  });

  it('ships LICENSE, and every source map points at files the package ships', () => {
    expect(files).toContain('LICENSE');
    const maps = files.filter((f) => f.endsWith('.js.map'));
    expect(maps.length).toBeGreaterThan(50);
    const shipped = new Set(files);
    for (const m of maps) {
      const map = JSON.parse(readFileSync(join(dir, 'project', 'node_modules', 'vaegrad', m), 'utf8')) as { sources: string[] };
      for (const s of map.sources) {
        const target = posix.normalize(posix.join(posix.dirname(m), s));
        expect(shipped.has(target), `${m} -> ${s}`).toBe(true);
      }
    }
  });
});
