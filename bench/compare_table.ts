/**
 * The side-by-side table of bench/compare_implicit.sh: reads the `RESULT`
 * lines bench/implicit_kernels.py and bench/compare_kernels.ts printed into
 * bench/out/compare_implicit.txt and prints, per kernel and thread count,
 * implicit's figure, tacit's, the ratio (how many times tacit is ahead) and
 * the target ratio of the hardware-limits issue.
 *
 *   deno run -A bench/compare_table.ts [path]
 */
import { readFileSync } from "node:fs";
import process from "node:process";

interface Result {
  library: "implicit" | "tacit";
  kernel: string;
  threads: number;
  value: number;
  unit: string;
}

const KERNELS: { kernel: string; label: string; higherIsBetter: boolean; target?: number }[] = [
  { kernel: "als_cg", label: "ALS CG, s/iteration", higherIsBetter: false, target: 4 },
  { kernel: "als_cholesky", label: "ALS Cholesky, s/iteration", higherIsBetter: false, target: 4 },
  {
    kernel: "recommend",
    label: "batched recommend, n = 10, users/s",
    higherIsBetter: true,
    target: 4,
  },
  {
    kernel: "recommend_float32",
    label: "… float32 path alone, users/s",
    higherIsBetter: true,
    target: 3,
  },
  { kernel: "bpr", label: "BPR, s/epoch", higherIsBetter: false, target: 2.5 },
  { kernel: "lmf", label: "LMF, s/epoch", higherIsBetter: false },
  { kernel: "bm25_fit", label: "BM25 item-kNN fit (k = 20), s", higherIsBetter: false, target: 3 },
  { kernel: "bm25_recommend", label: "BM25 recommend, users/s", higherIsBetter: true },
  { kernel: "peak_rss", label: "peak RSS, MiB", higherIsBetter: false },
];

const path = process.argv[2] ?? new URL("./out/compare_implicit.txt", import.meta.url).pathname;
const lines = readFileSync(path, "utf8").split("\n");
const results: Result[] = lines.filter((l) => l.startsWith("RESULT ")).map((l) =>
  JSON.parse(l.slice("RESULT ".length))
);
const machine = lines.find((l) => l.startsWith("machine: "));
if (machine) console.log(machine);
const threadCounts = [...new Set(results.map((r) => r.threads))].sort((a, b) => a - b);

const find = (library: string, kernel: string, threads: number) =>
  results.find((r) => r.library === library && r.kernel === kernel && r.threads === threads);
// implicit has one recommend path: the float32 row compares against it too.
const implicitKernel = (kernel: string) => kernel === "recommend_float32" ? "recommend" : kernel;

console.log(
  "\n| kernel | threads | implicit 0.7.3 | tacit | tacit ahead by | target |\n| --- | --- | --- | --- | --- | --- |",
);
for (const threads of threadCounts) {
  for (const { kernel, label, higherIsBetter, target } of KERNELS) {
    const ours = find("tacit", kernel, threads);
    const theirs = find("implicit", implicitKernel(kernel), threads);
    if (ours === undefined || theirs === undefined) continue;
    const ratio = higherIsBetter ? ours.value / theirs.value : theirs.value / ours.value;
    const verdict = target === undefined ? "—" : `${target}× ${ratio >= target ? "met" : "short"}`;
    console.log(
      `| ${label} | ${threads} | ${format(theirs.value)} | ${format(ours.value)} | ${
        ratio.toFixed(2)
      }× | ${verdict} |`,
    );
  }
}

function format(value: number): string {
  return value >= 100 ? Math.round(value).toLocaleString("en-US") : value.toPrecision(3);
}
