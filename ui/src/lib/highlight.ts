/**
 * Splits text around [start, end), where the offsets count Unicode code points (as the Rust
 * side does), not UTF-16 units: Chinese is one unit per character but emoji are two.
 */
export function splitByCodePoints(
  text: string,
  start: number | null,
  end: number | null,
): { before: string; quote: string; after: string } | null {
  if (start === null || end === null || start < 0 || end <= start) return null;
  const chars = Array.from(text);
  if (start >= chars.length) return null;
  const stop = Math.min(end, chars.length);
  return {
    before: chars.slice(0, start).join(""),
    quote: chars.slice(start, stop).join(""),
    after: chars.slice(stop).join(""),
  };
}
