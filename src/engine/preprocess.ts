import type { ModelManifest } from './manifest.js';

/**
 * RGB24 bytes [H,W,3] (already scaled and padded by ffmpeg) to pixel_values
 * [3,H,W] float32. Each step is rounded to float32 as PyTorch computes it, so the
 * vision encoder sees the same input as the Python reference.
 */
export function toPixelValues(rgb: Uint8Array, vision: ModelManifest['vision'], out?: Float32Array): Float32Array {
  const { width, height, rescale, mean, std } = vision;
  const plane = width * height;
  if (rgb.length !== plane * 3) throw new Error(`frame has ${rgb.length} bytes, expected ${plane * 3}`);
  const pixels = out ?? new Float32Array(plane * 3);
  const f = Math.fround;
  const scale = f(rescale);
  for (let c = 0; c < 3; c++) {
    const m = f(mean[c]!);
    const s = f(std[c]!);
    const base = c * plane;
    for (let i = 0; i < plane; i++) pixels[base + i] = f(f(f(rgb[i * 3 + c]! * scale) - m) / s);
  }
  return pixels;
}
