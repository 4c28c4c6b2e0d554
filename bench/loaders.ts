/**
 * Loader throughput: generates a lastfm-360K-format TSV of about `--mb` MB in bench/out/
 * (kept for later runs), then reads it with readLastfm360k and reports MB/s, lines/s and
 * peak RSS (reset after generation where Linux allows it).
 *
 *   deno run -A bench/loaders.ts [--mb 1000 --progress 0 --chunkMiB 4]
 *   bun bench/loaders.ts --mb 200
 */
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  renameSync,
  statSync,
  writeFileSync,
  writeSync,
} from "node:fs";
import { fileURLToPath } from "node:url";
import { readLastfm360k } from "../lib/datasets/lastfm.ts";
import { numberArgs, peakRssMiB, runtimeName } from "./common.ts";

const args = numberArgs({ mb: 1000, progress: 0, chunkMiB: 4 });
const dir = fileURLToPath(new URL("./out/", import.meta.url));
mkdirSync(dir, { recursive: true });
const path = `${dir}lastfm-${args.mb}mb.tsv`;
if (!existsSync(path)) generate(path, args.mb * 1e6);

try {
  writeFileSync("/proc/self/clear_refs", "5"); // resets VmHWM so generation does not count
} catch {
  // not Linux, or not allowed: peak RSS then includes generation
}
const bytes = statSync(path).size;
const started = performance.now();
const result = await readLastfm360k(path, {
  progress: args.progress !== 0,
  chunkSize: args.chunkMiB * 2 ** 20,
});
const seconds = (performance.now() - started) / 1000;
const { matrix } = result;
console.log(`runtime: ${runtimeName()}, file: ${(bytes / 1e6).toFixed(0)} MB (${path})`);
console.log(`matrix: ${matrix.nRows} users × ${matrix.nCols} items, ${matrix.nnz} nonzeros`);
console.log(
  `readLastfm360k: ${seconds.toFixed(2)} s = ${(bytes / 1e6 / seconds).toFixed(1)} MB/s, ` +
    `peak RSS ${peakRssMiB().toFixed(0)} MiB`,
);

/** Writes lastfm-format lines (users in runs, Zipf-popular artists, 12% without an mbid). */
function generate(target: string, size: number): void {
  let state = 0x9e3779b9;
  const next = (): number => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 2 ** 32;
  };
  const hex = (n: number): string => {
    let s = "";
    for (let k = 0; k < n; k++) s += "0123456789abcdef"[Math.floor(next() * 16)];
    return s;
  };
  const spellings = ["artist", "björk", "Сплин", "die Ärzte", "坂本龍一", "the band"];
  const nArtists = 300_000;
  const artists: string[] = [];
  for (let a = 0; a < nArtists; a++) {
    const mbid = next() < 0.12 ? "" : `${hex(8)}-${hex(4)}-${hex(4)}-${hex(4)}-${hex(12)}`;
    artists.push(`\t${mbid}\t${spellings[a % spellings.length]} ${a}\t`);
  }
  const started = performance.now();
  const part = `${target}.part`;
  const fd = openSync(part, "w");
  let written = 0;
  let user = hex(40);
  let left = 0;
  while (written < size) {
    const lines: string[] = [];
    let chunkBytes = 0;
    while (chunkBytes < 8e6 && written + chunkBytes < size) {
      if (left === 0) {
        user = hex(40);
        left = 1 + Math.floor(next() * 100);
      }
      left--;
      const artist = artists[Math.floor(nArtists * next() ** 3)]!;
      const line = `${user}${artist}${1 + Math.floor(1 / (next() + 0.002))}\n`;
      lines.push(line);
      chunkBytes += line.length + 4; // a few names are multi-byte; close enough
    }
    const chunk = new TextEncoder().encode(lines.join(""));
    writeSync(fd, chunk);
    written += chunk.length;
  }
  closeSync(fd);
  renameSync(part, target);
  console.log(
    `generated ${(written / 1e6).toFixed(0)} MB in ${
      ((performance.now() - started) / 1000).toFixed(1)
    } s`,
  );
}
