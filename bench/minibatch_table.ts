/**
 * The table of bench/compare_spotlight.sh: reads the `RESULT {json}` lines
 * that bench/minibatch.ts and bench/spotlight_minibatch.py printed and prints
 * one row per scale × loss × optimizer × threads × library, with Spotlight's
 * seconds per epoch over tacit's where both ran.
 *
 *   deno run -A bench/minibatch_table.ts bench/out/spotlight_results.txt
 *
 * @module
 */
import { readFileSync } from "node:fs";
import process from "node:process";

interface Result {
  lib: "tacit" | "spotlight";
  scale: string;
  loss: string;
  optimizer: string;
  threads: number;
  epochs: number;
  mean_seconds_per_epoch: number;
  mean_over: number;
  samples_per_second: number;
  cpu_per_wall: number;
  loss_per_epoch: number[];
  eval_users: number;
  mrr: number;
  precision_at_10: number;
  eval_seconds: number;
  peak_rss_mib: number;
  l2_applied: boolean;
}

const results: Result[] = readFileSync(process.argv[2]!, "utf8").split("\n")
  .filter((line) => line.startsWith("RESULT "))
  .map((line) => JSON.parse(line.slice("RESULT ".length)));

/** tacit's lazy-adam runs beside Spotlight's sparse-adam. */
const variant = (r: Result) => r.optimizer === "sparse-adam" ? "lazy-adam" : r.optimizer;
const key = (r: Result) => `${r.scale}|${r.loss}|${variant(r)}|${r.threads}`;
const tacit = new Map(results.filter((r) => r.lib === "tacit").map((r) => [key(r), r]));

const header = [
  "scale",
  "loss",
  "optimizer",
  "threads",
  "lib",
  "epochs",
  "s/epoch",
  "pairs/s",
  "cpu/wall",
  "last loss",
  "MRR",
  "p@10",
  "eval s",
  "peak RSS MiB",
  "spotlight/tacit",
];
const rows = results.map((r) => {
  const mine = tacit.get(key(r));
  const ratio = r.lib === "spotlight" && mine
    ? (r.mean_seconds_per_epoch / mine.mean_seconds_per_epoch).toFixed(1) + "×"
    : "";
  return [
    r.scale,
    r.loss,
    r.lib === "spotlight" ? `${r.optimizer}${r.l2_applied ? "" : " (no l2)"}` : r.optimizer,
    String(r.threads),
    r.lib,
    String(r.epochs),
    r.mean_seconds_per_epoch.toFixed(3),
    Math.round(r.samples_per_second).toLocaleString("en-US"),
    r.cpu_per_wall.toFixed(2),
    r.loss_per_epoch.at(-1)!.toFixed(4),
    r.mrr.toFixed(4),
    r.precision_at_10.toFixed(4),
    r.eval_seconds.toFixed(2),
    r.peak_rss_mib.toFixed(0),
    ratio,
  ];
});
console.log(`| ${header.join(" | ")} |`);
console.log(`| ${header.map(() => "---").join(" | ")} |`);
for (const row of rows) console.log(`| ${row.join(" | ")} |`);
