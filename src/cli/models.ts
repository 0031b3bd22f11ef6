import { configDir } from '../daemon/config.js';
import { LiveModel, readManifest, type ExecutionProviderChoice } from '../engine/index.js';
import { formatBytes, Progress } from '../models/progress.js';
import { pullPackage } from '../models/pull.js';
import { openStore, resolveModel, type ModelStore } from '../models/store.js';
import { readReference, verifyAgainst } from '../models/verify.js';
import { UserError } from '../util/errors.js';
import type { Logger } from '../util/log.js';

export const modelStore = (): ModelStore => openStore(configDir());

const out = (line: string): void => void process.stdout.write(line + '\n');

/** `cocaster models list|add DIR|pull URL|verify ID|DIR|remove ID`. Nothing is
 * downloaded except by `pull`, with its URL given. */
export async function modelsCommand(sub: string | undefined, arg: string | undefined, ep: ExecutionProviderChoice, logger: Logger): Promise<void> {
  const store = modelStore();
  const need = (what: string) => {
    if (!arg) throw new UserError(`cocaster models ${sub} needs ${what}`);
    return arg;
  };
  switch (sub) {
    case 'list': {
      const models = store.list();
      if (!models.length) return out(`no models in ${store.root} (cocaster models add DIR, or pull URL)`);
      for (const m of models) out(`${m.id}  ${formatBytes(m.bytes)}  ${m.name}`);
      return;
    }
    case 'add': {
      const pkg = await store.add(need('a package folder'));
      return out(`installed ${pkg.manifest.id} in ${pkg.dir}`);
    }
    case 'pull': {
      const pkg = await pullPackage(need('an http(s) URL'), store, new Progress((t) => process.stderr.write(t), process.stderr.isTTY === true));
      return out(`installed ${pkg.manifest.id} in ${pkg.dir} (every sha256 checked)`);
    }
    case 'verify':
      return verify(resolveModel(need('a model id or folder'), store), ep, logger);
    case 'remove':
      store.remove(need('a model id'));
      return out(`removed ${arg}`);
    default:
      throw new UserError(`unknown models command '${sub ?? ''}' (try: list, add DIR, pull URL, verify ID, remove ID)`);
  }
}

/** Replays the package's reference.json on the chosen provider; exit 1 on disagreement. */
async function verify(dir: string, ep: ExecutionProviderChoice, logger: Logger): Promise<void> {
  const pkg = readManifest(dir);
  const reference = readReference(dir, pkg.manifest.files.reference?.path);
  const model = await LiveModel.load(dir, { ep, logger });
  try {
    const runs = await verifyAgainst(model, reference);
    for (const r of runs) {
      out(`run (cap ${r.maxNewTokens}${r.context ? `, KV budget ${r.context}` : ''}): decisions ${(100 * r.decisionAgreement).toFixed(1)}% of ${r.frames} frames, ` +
        `spoken lines ${r.saysEqual}/${r.says} identical, max |ΔP(interval)| ${r.maxDeltaP.toExponential(2)}: ${r.pass ? 'agrees' : 'DISAGREES'}`);
    }
    const ok = runs.every((r) => r.pass);
    out(`${pkg.manifest.id} on ${model.provider}: ${ok ? 'verified' : 'does not match its reference'}`);
    if (!ok) process.exitCode = 1;
  } finally {
    await model.release();
  }
}
