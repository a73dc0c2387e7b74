import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeHostileCorpus } from '../pipelines/corpus/hostile.ts';
import { sinePcm16, wavBytes } from '../pipelines/corpus/wav.ts';

function bonsai(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['bin/bonsai.js', ...args], { encoding: 'utf8', timeout: 120_000, env: { ...process.env, BONSAI_CONFIG: '' } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('bonsai check --json gives every file of the hostile corpus its verdict and code, without crashing', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'bonsai-cli-check-'));
  try {
    const corpus = await writeHostileCorpus(dir);
    assert.ok(corpus.length >= 30, `corpus has only ${corpus.length} kinds`);
    // Files with an inbox root are checked per root; the rest in one call.
    const groups = new Map<string, typeof corpus>();
    for (const e of corpus) groups.set(e.inboxRoot ?? '', [...(groups.get(e.inboxRoot ?? '') ?? []), e]);
    let checked = 0;
    for (const [root, entries] of groups) {
      const r = bonsai(['check', '--json', ...(root ? ['--inbox', root] : []), ...entries.map((e) => e.path)]);
      assert.ok(r.status === 0 || r.status === 1, `exit ${r.status}: ${r.stderr}`);
      const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { file: string; ok: boolean; code?: string; message: string });
      assert.equal(lines.length, entries.length, r.stderr);
      entries.forEach((e, i) => {
        const v = lines[i];
        assert.equal(v.file, e.path);
        assert.equal(typeof v.message, 'string');
        if (e.expectCode === null) assert.ok(v.ok, `${e.name}: expected acceptance, got ${v.code}: ${v.message}`);
        else assert.equal(v.code, e.expectCode, `${e.name}: ${v.message}`);
      });
      assert.equal(r.status, entries.every((e) => e.expectCode === null) ? 0 : 1);
      checked += entries.length;
    }
    assert.equal(checked, corpus.length);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('bonsai usage errors exit 2 with a coded message', () => {
  const r = bonsai(['experiment', 'mnist', '--profile', 'huge']);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /BONSAI_CLI_BAD_OPTION/);
  assert.equal(bonsai(['check']).status, 2);
  for (const draws of ['0', '5', '1.5', 'two']) {
    const d = bonsai(['experiment', 'mnist', '--profile', 'smoke', '--reference-draws', draws]);
    assert.equal(d.status, 2, `--reference-draws ${draws}`);
    assert.match(d.stderr, new RegExp(`BONSAI_CLI_BAD_OPTION.*--reference-draws takes an integer from 1 to 4, got "${draws.replace('.', '\\.')}"`));
  }
});

test('bonsai check judges content by the config\'s model.modality when a config file is given, by content without one; --modality overrides', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'bonsai-cli-modality-'));
  try {
    const wav = join(dir, 'one.wav');
    await writeFile(wav, wavBytes({ data: sinePcm16(0.5) }));
    const config = join(dir, 'image.yaml');
    await writeFile(config, 'model:\n  modality: image\n');
    const verdict = (args: string[]): { ok: boolean; code?: string } => {
      const r = bonsai(['check', '--json', ...args, wav]);
      return JSON.parse(r.stdout.trim()) as { ok: boolean; code?: string };
    };
    assert.deepEqual(verdict(['--config', config]), { file: wav, ok: false, code: 'BONSAI_INGEST_WRONG_MODALITY', message: 'one.wav: the content is WAV (audio) but the model reads images (model.modality: image)', modality: 'audio' });
    assert.equal(verdict([]).ok, true);
    assert.equal(verdict(['--config', config, '--modality', 'any']).ok, true);
    assert.equal(verdict(['--modality', 'audio']).ok, true);
    assert.equal(verdict(['--modality', 'image']).code, 'BONSAI_INGEST_WRONG_MODALITY');
    const bad = bonsai(['check', '--modality', 'video', wav]);
    assert.equal(bad.status, 2, bad.stderr);
    assert.match(bad.stderr, /BONSAI_CLI_BAD_OPTION.*--modality takes image, audio or any, got "video"/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
