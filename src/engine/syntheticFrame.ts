/**
 * The deterministic test pattern of scripts/make_fixture.py (`synthetic_frame`),
 * byte for byte: the golden test and the benchmark feed it without ffmpeg.
 */
export function syntheticFrame(k: number, width: number, height: number): Uint8Array {
  const out = new Uint8Array(width * height * 3);
  const cx = (k * 3) % width;
  const cy = (k * 5) % height;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const box = Math.abs(x - cx) < 10 && Math.abs(y - cy) < 10;
      for (let c = 0; c < 3; c++) {
        const v = (x * (c + 1) * 7 + y * ((k % 17) + 1) * 3 + k * k * 5 + ((x * y) >> 3) * (c + 1) + Math.floor(k / 40) * 60) % 256;
        out[(y * width + x) * 3 + c] = box ? 255 - v : v;
      }
    }
  }
  return out;
}
