/**
 * The table of bench/compare_lightfm.sh: reads the `RESULT {json}` lines that
 * bench/hybrid.ts and bench/lightfm_hybrid.py printed (one per scale × loss ×
 * library × seed) and prints one row per scale × loss × library.
 *
 *   deno run -A bench/hybrid_table.ts bench/out/lightfm_results.txt
 */
import { readFileSync } from "node:fs";
import process from "node:process";
import { outDir } from "./hybrid_data.ts";

interface Result {
  lib: "tacit" | "lightfm";
  scale: string;
  loss: string;
  seed: number;
  threads: number;
  epochs: number;
  secondsPerEpoch: number;
  meanOver: number;
  trainNnz: number;
  cpuPerWall: number;
  evalUsers: number;
  precision: number;
  auc: number;
  peakRssMiB: number;
  runtime?: string;
}

const results: Result[] = readFileSync(process.argv[2]!, "utf8").split("\n")
  .filter((line) => line.startsWith("RESULT "))
  .map((line) => JSON.parse(line.slice("RESULT ".length)));

const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;
/** Sample standard deviation (0 for one value). */
const sd = (xs: number[]) =>
  xs.length < 2 ? 0 : Math.sqrt(xs.reduce((s, x) => s + (x - mean(xs)) ** 2, 0) / (xs.length - 1));
const spread = (xs: number[]) => `${mean(xs).toFixed(4)} ± ${sd(xs).toFixed(4)}`;

const scales = [...new Set(results.map((r) => r.scale))];
for (const scale of scales) {
  const meta = JSON.parse(readFileSync(new URL("meta.json", outDir(scale)), "utf8"));
  const evaluated = meta.evalUserCount < meta.usersWithTest
    ? `a fixed random sample of ${meta.evalUserCount} of the ${meta.usersWithTest} test users`
    : `all ${meta.evalUserCount} test users`;
  console.log(
    `${scale}: ${meta.users} users × ${meta.items} items, train ${meta.trainNnz}, test ${meta.testNnz} ` +
      `interactions, ${meta.shapes.item_features[1]} item features (identity + ${meta.genres}); ` +
      `metrics over ${evaluated}`,
  );
}
const seeds = [...new Set(results.map((r) => r.seed))].sort((x, y) => x - y);
const first = results[0];
console.log(
  `threads ${first?.threads}; seeds ${seeds.join(",")} (p@10 and AUC: mean ± sd over seeds); ` +
    `s/epoch: mean over the epochs after the first, then over seeds; peak RSS: max over seeds`,
);
console.log(
  "cpu/wall: process CPU time over wall time while training; well below the thread count, the " +
    "process did not get (or did not use) its cores, so compare seconds only between rows near it",
);

const header = [
  "scale",
  "loss",
  "library",
  "epochs",
  "s/epoch",
  "interactions/s",
  "cpu/wall",
  "peak RSS MiB",
  "precision@10",
  "AUC",
  "tacit/LightFM s/epoch",
];
const rows: string[][] = [header];
for (const scale of scales) {
  const losses = [...new Set(results.filter((r) => r.scale === scale).map((r) => r.loss))];
  for (const loss of losses) {
    const perLib = (lib: string) =>
      results.filter((r) => r.scale === scale && r.loss === loss && r.lib === lib);
    const lightfmSeconds = perLib("lightfm").map((r) => r.secondsPerEpoch);
    for (const lib of ["tacit", "lightfm"]) {
      const rs = perLib(lib);
      if (rs.length === 0) continue;
      const seconds = mean(rs.map((r) => r.secondsPerEpoch));
      const ratio = lib === "tacit" && lightfmSeconds.length > 0
        ? (seconds / mean(lightfmSeconds)).toFixed(2)
        : "";
      rows.push([
        scale,
        loss,
        lib === "tacit" ? `tacit (${rs[0]!.runtime})` : "LightFM 1.17",
        `${rs[0]!.epochs} (mean of ${rs[0]!.meanOver})`,
        seconds.toFixed(3),
        (rs[0]!.trainNnz / seconds).toExponential(2),
        mean(rs.map((r) => r.cpuPerWall)).toFixed(2),
        Math.max(...rs.map((r) => r.peakRssMiB)).toFixed(0),
        spread(rs.map((r) => r.precision)),
        spread(rs.map((r) => r.auc)),
        ratio,
      ]);
    }
  }
}
const widths = header.map((_, c) => Math.max(...rows.map((row) => row[c]!.length)));
for (const row of rows) console.log(row.map((cell, c) => cell.padEnd(widths[c]!)).join("  "));
