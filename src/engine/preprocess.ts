import type { ModelManifest } from './manifest.js';

/**
 * RGB24 bytes [H,W,3] (already scaled and padded by ffmpeg) to pixel_values
 * [3,H,W] float32. Each step is rounded to float32 as PyTorch computes it, so the
 * vision encoder sees the same input as the Python reference.
 */
export function toPixelValues(rgb: Uint8Array, vision: ModelManifest['vision'], out?: Float32Array): Float32Array {
  const { width, height } = vision;
  const plane = width * height;
  if (rgb.length !== plane * 3) throw new Error(`frame has ${rgb.length} bytes, expected ${plane * 3}`);
  const pixels = out ?? new Float32Array(plane * 3);
  const table = pixelTable(vision);
  for (let c = 0; c < 3; c++) {
    const base = c * plane;
    const offset = c * 256;
    for (let i = 0; i < plane; i++) pixels[base + i] = table[offset + rgb[i * 3 + c]!]!;
  }
  return pixels;
}

/** A byte's value per channel depends on the byte alone: 3 x 256 entries, computed
 * once per manifest, replace three rounded operations per pixel. */
const tables = new WeakMap<ModelManifest['vision'], Float32Array>();

function pixelTable(vision: ModelManifest['vision']): Float32Array {
  let table = tables.get(vision);
  if (table) return table;
  const { rescale, mean, std } = vision;
  const f = Math.fround;
  const scale = f(rescale);
  table = new Float32Array(3 * 256);
  for (let c = 0; c < 3; c++) {
    const m = f(mean[c]!);
    const s = f(std[c]!);
    for (let v = 0; v < 256; v++) table[c * 256 + v] = f(f(f(v * scale) - m) / s);
  }
  tables.set(vision, table);
  return table;
}
