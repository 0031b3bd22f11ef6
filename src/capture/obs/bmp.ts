/** Minimal BMP reader for OBS screenshots (Qt writes uncompressed 24/32-bit BMPs):
 * no decoder process, no latency. Returns tightly packed RGB24. */
export interface RgbImage {
  width: number;
  height: number;
  rgb: Uint8Array;
}

export function decodeBmp(buf: Buffer): RgbImage {
  if (buf.length < 54 || buf.toString('latin1', 0, 2) !== 'BM') throw new Error('not a BMP image');
  const dataOffset = buf.readUInt32LE(10);
  const width = buf.readInt32LE(18);
  const rawHeight = buf.readInt32LE(22);
  const bpp = buf.readUInt16LE(28);
  const compression = buf.readUInt32LE(30);
  // 32-bit BMPs from Qt use BI_BITFIELDS (3) with the usual BGRA masks.
  if ((bpp !== 24 && bpp !== 32) || (compression !== 0 && compression !== 3)) throw new Error(`unsupported BMP (${bpp} bpp, compression ${compression})`);
  const height = Math.abs(rawHeight);
  const bottomUp = rawHeight > 0;
  const bytesPerPixel = bpp / 8;
  const stride = Math.ceil((width * bytesPerPixel) / 4) * 4;
  if (dataOffset + stride * height > buf.length) throw new Error('truncated BMP');
  const rgb = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    const row = dataOffset + (bottomUp ? height - 1 - y : y) * stride;
    for (let x = 0; x < width; x++) {
      const src = row + x * bytesPerPixel;
      const dst = (y * width + x) * 3;
      rgb[dst] = buf[src + 2]!;
      rgb[dst + 1] = buf[src + 1]!;
      rgb[dst + 2] = buf[src]!;
    }
  }
  return { width, height, rgb };
}

/** The size ffmpeg's `scale=W:H:force_original_aspect_ratio=decrease` gives. */
export function fitSize(srcW: number, srcH: number, maxW: number, maxH: number): { width: number; height: number } {
  const scale = Math.min(maxW / srcW, maxH / srcH);
  return { width: Math.max(1, Math.round(srcW * scale)), height: Math.max(1, Math.round(srcH * scale)) };
}

/** Centres an image on a black canvas, like ffmpeg's `pad=W:H:(ow-iw)/2:(oh-ih)/2`. */
export function padTo(img: RgbImage, width: number, height: number): Uint8Array {
  if (img.width === width && img.height === height) return img.rgb;
  const out = new Uint8Array(width * height * 3);
  const x0 = Math.floor((width - img.width) / 2);
  const y0 = Math.floor((height - img.height) / 2);
  const w = Math.min(img.width, width);
  for (let y = 0; y < Math.min(img.height, height); y++) {
    out.set(img.rgb.subarray(y * img.width * 3, (y * img.width + w) * 3), ((y0 + y) * width + x0) * 3);
  }
  return out;
}
