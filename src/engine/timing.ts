/** Where a frame's time goes (the benchmark's --profile listens):
 * preprocess: pixels to pixel_values; vision/embed/decoder: their ONNX runs;
 * feeds: decoder input tensors; logits: reading them back; cache: appending the
 * new positions; compact: the cache policy's kv_shift runs; sampling: the decision
 * or the next token from the logits. */
export type TimingPart = 'preprocess' | 'vision' | 'embed' | 'feeds' | 'decoder' | 'logits' | 'cache' | 'compact' | 'sampling';

export type TimingListener = (part: TimingPart, ms: number, positions: number) => void;
