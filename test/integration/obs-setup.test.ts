import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, tempDir } from '../helpers.js';
import { ObsHarness, obsAvailableOrFail } from './obsHarness.js';

const hasObs = obsAvailableOrFail();

describe.skipIf(!hasObs)('cocaster obs setup and doctor against a real OBS', () => {
  let obs: ObsHarness;
  let config: string;
  const env = { COCASTER_CONFIG_DIR: tempDir() };
  beforeAll(async () => {
    obs = await ObsHarness.start();
    config = join(tempDir(), 'cocaster.json');
    writeFileSync(config, JSON.stringify({ source: 'obs', obs: { url: obs.url, password: obs.password } }));
  }, 60_000);
  afterAll(() => obs?.stop());

  it('doctor reaches OBS with the configured password', async () => {
    const res = await runCli(['doctor', '--config', config], env);
    expect(res.stdout).toMatch(new RegExp(`^ok +OBS: connected to ${obs.url.replace(/\./g, '\\.')}, program scene 'Scene'$`, 'm'));
    expect(res.stdout + res.stderr).not.toContain(obs.password);
  }, 60_000);

  it('doctor fails the OBS check with a wrong password', async () => {
    const bad = join(tempDir(), 'bad.json');
    writeFileSync(bad, JSON.stringify({ source: 'obs', obs: { url: obs.url, password: 'wrong' } }));
    const res = await runCli(['doctor', '--config', bad], env);
    expect(res.code).toBe(1);
    expect(res.stdout).toMatch(/^FAIL OBS: OBS at .* rejected the password/m);
  }, 60_000);

  it('obs setup says plainly when this OBS has no Browser Source (Debian builds lack obs-browser)', async () => {
    const res = await runCli(['obs', 'setup', '--config', config], env);
    // Debian's OBS 29 ships without the obs-browser plugin: the command must explain, not half-work.
    expect(res.code).toBe(2);
    expect(res.stderr.trim().split('\n')).toHaveLength(1);
    expect(res.stderr).toMatch(/no Browser Source \(the obs-browser plugin is missing\)/);
    expect(res.stderr).not.toContain(obs.password);
  }, 60_000);
});
