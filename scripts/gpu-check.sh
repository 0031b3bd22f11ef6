#!/usr/bin/env bash
# gpu-check.sh: VideoLLM-online 8B on an NVIDIA GPU, from nothing (no weights, no internet).
#
#   scripts/gpu-check.sh [--work DIR] [--eps "webgpu cuda"] [--precisions "fp16 int4"] [--small]
#
# Builds the full-size random checkpoint in the released on-disk layout
# (python3 -m videollm.make_checkpoints --full-size: real Llama-3-8B + SigLIP-L/16-384 +
# adapter shapes, 17.8 GiB), exports it to fp16 and int4 packages (peak RSS by
# /usr/bin/time -v), then measures on each execution provider: frames/s (vision + the
# frame's decoder step, what a silent stream costs) and ms/token (one cached decoder
# step while speaking) at ~1k and ~6k cached tokens. Prints a table at the end.
#
# Needs: node + this checkout's node_modules (npm ci), python3 with torch, numpy and
# onnx (set PYTHON=... to choose it), ~41 GiB free under --work (default /tmp/gpu-check),
# and for the full size ~8 GiB of RAM (the exports stay under 4.5 GiB). An execution
# provider that cannot run is reported as such, with the reason, and the others still run.
# Export time at full size: ~30-50 min on 2 slow cores, far less on 16.
#
# --small: the CI-size checkpoint instead (seconds), to check the script end to end on
# any machine (use --eps cpu there).
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
WORK=/tmp/gpu-check
EPS="webgpu cuda"
PRECISIONS="fp16 int4"
SMALL=0
while [ $# -gt 0 ]; do
  case "$1" in
    --work) WORK=$2; shift 2 ;;
    --eps) EPS=$2; shift 2 ;;
    --precisions) PRECISIONS=$2; shift 2 ;;
    --small) SMALL=1; shift ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    *) echo "gpu-check: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done

say() { printf '\n== %s\n' "$*"; }
die() { echo "gpu-check: $*" >&2; exit 1; }

# ---- preflight -------------------------------------------------------------------------
PY=${PYTHON:-}
if [ -z "$PY" ]; then
  for c in /usr/bin/python3 python3; do
    if "$c" -c 'import torch, numpy, onnx' 2>/dev/null; then PY=$c; break; fi
  done
fi
[ -n "$PY" ] || die "no python3 with torch, numpy and onnx (apt install python3-torch python3-onnx, or set PYTHON=)"
command -v node >/dev/null || die "node is not installed"
[ -d "$REPO/node_modules/onnxruntime-node" ] || die "run 'npm ci' in $REPO first (node_modules is missing)"
TIME=()
if /usr/bin/time -v true 2>/dev/null; then TIME=(/usr/bin/time -v); else echo "(no GNU /usr/bin/time: export peak RSS is not measured)"; fi

say "machine"
echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //') x $(nproc), memory $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo)"
if command -v nvidia-smi >/dev/null; then
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | sed 's/^/gpu: /'
else
  echo "gpu: nvidia-smi not found (no NVIDIA driver?): webgpu falls back to whatever Vulkan device exists, cuda cannot run"
fi
if command -v vulkaninfo >/dev/null; then
  vulkaninfo --summary 2>/dev/null | grep -E 'deviceName|driverName' | sed 's/^ */vulkan: /' || true
else
  echo "vulkan: vulkaninfo not found (apt install vulkan-tools to list devices); WebGPU needs the NVIDIA Vulkan ICD"
fi
node -e "const o=require('$REPO/node_modules/onnxruntime-node'); console.log('onnxruntime-node providers: ' + o.listSupportedBackends().map(b => b.name + (b.bundled ? '' : ' (not bundled)')).join(', '))"

mkdir -p "$WORK"
if [ "$SMALL" = 1 ]; then SIZE_ARGS=(); CKPT=$WORK/ckpt-small; else SIZE_ARGS=(--full-size); CKPT=$WORK/ckpt-full; fi
if [ "$SMALL" = 0 ]; then
  free_gb=$(df -Pk "$WORK" | awk 'NR==2 {print int($4/1048576)}')
  [ "$free_gb" -ge 41 ] || [ -f "$CKPT/.done" ] || die "$WORK has ${free_gb} GiB free; the checkpoint (17.8 GiB) and the fp16 (15.6) and int4 (6.0) packages need ~40 GiB (use --work DIR)"
fi

# ---- checkpoint ------------------------------------------------------------------------
if [ -f "$CKPT/.done" ]; then
  say "checkpoint: reusing $CKPT"
else
  say "checkpoint: python3 -m videollm.make_checkpoints $CKPT ${SIZE_ARGS[*]}"
  rm -rf "$CKPT"
  (cd "$REPO/scripts" && "$PY" -m videollm.make_checkpoints "$CKPT" "${SIZE_ARGS[@]}")
  touch "$CKPT/.done"
fi
du -sh "$CKPT"

# ---- export ----------------------------------------------------------------------------
# The random full-size model is not calibrated: it speaks on every frame and never says
# EOS, so its reference (an independent torch run, a full weight pass per step) is kept
# short, as README "Real models" measured it; its decoder is streamed from the checkpoint
# (--reference-streaming auto), so peak RSS is the bounded-memory figure.
REF_ARGS=()
if [ "$SMALL" = 0 ]; then REF_ARGS=(--reference-frames 6 --reference-max-new-tokens 2); fi
declare -A RSS SIZE
for p in $PRECISIONS; do
  PKG=$WORK/pkg-$([ "$SMALL" = 1 ] && echo small || echo full)-$p
  if [ -f "$PKG/model.json" ]; then
    say "export $p: reusing $PKG"
  else
    say "export $p -> $PKG"
    rm -rf "$PKG"
    log=$WORK/export-$p.log
    if ! (cd "$REPO/scripts" && "${TIME[@]}" "$PY" -m videollm.export --llama "$CKPT/llama" --adapter "$CKPT/adapter" \
        --siglip "$CKPT/siglip" --out "$PKG" --precision "$p" --id "videollm-random-$p" "${REF_ARGS[@]}") 2>&1 | tee "$log"; then
      rm -rf "$PKG"
      die "export $p failed (log: $log)"
    fi
    RSS[$p]=$(awk -F': ' '/Maximum resident set size/ {printf "%.2f GiB", $2/1048576}' "$log")
  fi
  SIZE[$p]=$(du -sh "$PKG" | cut -f1)
done

# ---- bench -----------------------------------------------------------------------------
# A fixed synthetic stream through the real engine (LiveModel + LiveSession), as
# `npm run bench` does, but timed by the context length at each decoder call.
BENCH=$(mktemp --suffix=.mts)  # .mts: an ES module (top-level await) outside any package.json
trap 'rm -f "$BENCH"' EXIT
cat > "$BENCH" <<EOF
import { bundledProviders, LiveModel, LiveSession, type ExecutionProviderChoice } from '$REPO/src/engine/index.ts';
import { syntheticFrame } from '$REPO/src/engine/syntheticFrame.ts';
import { silentLogger } from '$REPO/src/util/log.ts';

const [dir, ep, pointsArg] = process.argv.slice(2) as [string, ExecutionProviderChoice, string];
const points = pointsArg.split(',').map(Number);
const WINDOW = 256; // samples with a context in [point, point + WINDOW) count for that point
const out = (o: object) => console.log('RESULT ' + JSON.stringify({ ep, ...o }));
const bundled = [...bundledProviders()];
if (!bundled.includes(ep)) {
  const why = ep === 'cuda'
    ? 'this onnxruntime-node has no CUDA provider: its CUDA binaries are downloaded by its install script, which package.json allowScripts denies ' +
      '(on a machine with internet: npm rebuild onnxruntime-node --onnxruntime-node-install=cuda12, then copy node_modules; it also needs CUDA 12 and cuDNN 9 libraries)'
    : 'not in this onnxruntime-node build (has: ' + bundled.join(', ') + ')';
  out({ error: why });
  process.exit(0);
}
let model: LiveModel;
const t0 = performance.now();
try {
  model = await LiveModel.load(dir, { ep, logger: silentLogger });
} catch (err) {
  const msg = String(err instanceof Error ? err.message : err).split('\n')[0];
  const hint = ep === 'cuda' ? ' (CUDA EP present but failed to start: are libcudart.so.12, libcublas, libcudnn.so.9 on LD_LIBRARY_PATH?)'
    : ep === 'webgpu' ? ' (WebGPU runs on Vulkan here: is the NVIDIA Vulkan ICD installed? vulkaninfo --summary)' : '';
  out({ error: 'failed to load: ' + msg + hint });
  process.exit(0);
}
const loadS = (performance.now() - t0) / 1000;
const { width, height, fps, tokensPerFrame } = model.manifest.vision;
let session: LiveSession;
const samples: { part: string; ms: number; ctx: number }[] = [];
model.onTiming = (part, ms, positions) => {
  const ctx = session?.contextLength ?? 0;
  if (part === 'vision') samples.push({ part, ms, ctx });
  else if (part === 'decoder' && positions >= tokensPerFrame) samples.push({ part: 'frame', ms, ctx });
  else if (part === 'decoder' && positions === 1) samples.push({ part: 'token', ms, ctx });
};
let compactions = 0;
let spoken = 0;
session = new LiveSession(model, (e) => { if (e.type === 'compaction' || e.type === 'contextReset') compactions++; if (e.type === 'say') spoken++; });
const last = Math.max(...points) + WINDOW;
let k = 0;
const start = performance.now();
while (session.contextLength < last && k < 3000) {
  await session.pushFrame({ t: k / fps, rgb: syntheticFrame(k, width, height) });
  k++;
}
const wallS = (performance.now() - start) / 1000;
const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN);
const r = (x: number) => Math.round(x * 100) / 100;
const visionMs = mean(samples.filter((s) => s.part === 'vision').slice(2).map((s) => s.ms)); // first two: warm-up
const at = points.map((p) => {
  const inWin = (s: { ctx: number }) => s.ctx >= p && s.ctx < p + WINDOW;
  const frameMs = mean(samples.filter((s) => s.part === 'frame' && inWin(s)).map((s) => s.ms));
  const tokens = samples.filter((s) => s.part === 'token' && inWin(s));
  return { context: p, framesPerS: r(1000 / (visionMs + frameMs)), frameDecoderMs: r(frameMs), msPerToken: r(mean(tokens.map((s) => s.ms))), tokens: tokens.length };
});
out({ provider: model.provider, loadS: r(loadS), frames: k, wallS: r(wallS), reachedContext: session.contextLength, visionMs: r(visionMs), spoken, compactions, at });
await model.release();
EOF

POINTS=1000,6000
RESULTS=()
for p in $PRECISIONS; do
  PKG=$WORK/pkg-$([ "$SMALL" = 1 ] && echo small || echo full)-$p
  for ep in $EPS; do
    say "bench $p on $ep"
    log=$WORK/bench-$p-$ep.log
    (cd "$REPO" && timeout 3600 "$REPO/node_modules/.bin/tsx" "$BENCH" "$PKG" "$ep" "$POINTS" 2>&1 | tee "$log") || true
    line=$(grep '^RESULT ' "$log" | tail -1 || true)
    [ -n "$line" ] || line="RESULT {\"ep\":\"$ep\",\"error\":\"the bench crashed or timed out (output above)\"}"
    RESULTS+=("$p ${line#RESULT }")
  done
done

# ---- summary ---------------------------------------------------------------------------
say "summary ($([ "$SMALL" = 1 ] && echo 'SMALL checkpoint: not the 8B figures' || echo 'full-size random VideoLLM-online 8B'))"
for p in $PRECISIONS; do echo "export $p: peak RSS ${RSS[$p]:-not measured (reused or no /usr/bin/time)}, package ${SIZE[$p]}"; done
for row in "${RESULTS[@]}"; do
  p=${row%% *}
  node -e '
    const [p, json] = process.argv.slice(1); const r = JSON.parse(json);
    if (r.error) { console.log(`${p} ${r.ep}: NOT MEASURED: ${r.error}`); process.exit(0); }
    for (const a of r.at) console.log(`${p} ${r.provider}: at ${a.context} cached tokens: ${a.framesPerS} frames/s (vision ${r.visionMs} ms + frame step ${a.frameDecoderMs} ms), ${a.msPerToken} ms/token (${a.tokens} tokens)`);
    console.log(`${p} ${r.provider}: load ${r.loadS} s, ${r.frames} frames in ${r.wallS} s, ${r.spoken} lines spoken, reached ${r.reachedContext} tokens, ${r.compactions} compactions`);
  ' "$p" "${row#* }"
done
