/**
 * The table of bench/compare_ann.sh: reads bench/out/ann/<dataset>/{reference,tacit}.jsonl
 * (bench/ann_reference.py and bench/ann.ts) and prints one markdown table, a row per
 * dataset × library × index × route × threads: build seconds, index MiB, QPS at recall@10
 * 0.90 / 0.95 / 0.99 without a filter (the best QPS among the sweep points reaching it,
 * "—" when none does), and for the liked-items and 90%-excluded filters the QPS at 0.95
 * (with the method that gave it) and the best recall any point reached.
 *
 *   deno run -A bench/ann_table.ts [--datasets powerlaw,planted]
 *
 * @module
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { benchArgs } from "./common.ts";
import { annDir, DATASETS } from "./ann_data.ts";

/** One line of a results file; `kind` says which fields it has. */
export interface AnnRecord {
  kind: "build" | "query" | "skipped" | "plan";
  lib: string;
  dataset: string;
  threads: number;
  queries?: number;
  index?: string;
  build_s?: number;
  bytes?: number;
  filter?: "none" | "liked" | "excluded";
  method?: string;
  param?: string;
  value?: number | null;
  recall?: number;
  qps?: number;
  seconds?: number;
  reason?: string;
  /** kind "plan": what index.calibrate() decided, and how long it took. */
  calibrate_s?: number;
  effort?: number;
  exact?: boolean;
  measuredRecall?: number;
  indexQps?: number;
  exactQps?: number;
}

export const TARGETS = [0.9, 0.95, 0.99] as const;
/** Methods that are a query route of their own rather than a way to filter a search. */
const ROUTES = ["model-route", "planner"];

/** The best QPS among `points` reaching `target` recall, or undefined. */
export function qpsAt(points: AnnRecord[], target: number): AnnRecord | undefined {
  let best: AnnRecord | undefined;
  for (const p of points) {
    if (p.recall! >= target && (best === undefined || p.qps! > best.qps!)) best = p;
  }
  return best;
}

const route = (r: AnnRecord) => ROUTES.includes(r.method!) ? r.method! : "search";
const rowKey = (r: AnnRecord) => `${r.dataset}|${r.lib}|${r.index}|${route(r)}|${r.threads}`;
const qps = (r: AnnRecord | undefined) => r === undefined ? "—" : r.qps!.toFixed(0);

/** The markdown table of `records` (see the module documentation). */
export function annTable(records: AnnRecord[]): string {
  const builds = new Map<string, AnnRecord>();
  const rows = new Map<string, AnnRecord[]>();
  for (const r of records) {
    if (r.kind === "build") builds.set(`${r.dataset}|${r.lib}|${r.index}|${r.threads}`, r);
    if (r.kind === "query") rows.set(rowKey(r), [...(rows.get(rowKey(r)) ?? []), r]);
  }
  const header = [
    "dataset",
    "lib",
    "index",
    "route",
    "threads",
    "build s",
    "MiB",
    ...TARGETS.map((t) => `QPS@${t.toFixed(2)}`),
    "liked QPS@0.95 (method)",
    "liked best recall",
    "90% excl. QPS@0.95 (method)",
    "90% excl. best recall",
  ];
  const lines = [header, header.map(() => "---")];
  for (const points of rows.values()) {
    const first = points[0]!;
    const build = builds.get(`${first.dataset}|${first.lib}|${first.index}|${first.threads}`);
    const by = (f: string) => points.filter((p) => p.filter === f);
    const filtered = (f: string) => {
      const hit = qpsAt(by(f), 0.95);
      const best = Math.max(...by(f).map((p) => p.recall!));
      return [
        hit === undefined ? "—" : `${qps(hit)} (${hit.method})`,
        Number.isFinite(best) ? best.toFixed(4) : "",
      ];
    };
    lines.push([
      first.dataset,
      first.lib,
      first.index!,
      route(first),
      String(first.threads),
      build?.build_s?.toFixed(2) ?? "",
      build?.bytes === undefined ? "" : (build.bytes / 2 ** 20).toFixed(1),
      ...TARGETS.map((t) => by("none").length > 0 ? qps(qpsAt(by("none"), t)) : ""),
      ...filtered("liked"),
      ...filtered("excluded"),
    ]);
  }
  const skipped = new Set(
    records.filter((r) => r.kind === "skipped").map((r) => `- ${r.dataset}, ${r.lib}: ${r.reason}`),
  );
  return [...lines.map((cells) => `| ${cells.join(" | ")} |`), ...skipped].join("\n");
}

/** The records of one results file, [] when it is missing. */
export function readRecords(path: string): AnnRecord[] {
  if (!existsSync(path)) return [];
  return readFileSync(path, "utf8").split("\n").filter((line) => line.trim() !== "")
    .map((line) => JSON.parse(line) as AnnRecord);
}

if (import.meta.main) {
  const args = benchArgs({ datasets: DATASETS.join(",") });
  const records = args.datasets.split(",").flatMap((name) =>
    ["reference.jsonl", "tacit.jsonl"].flatMap((file) => readRecords(join(annDir(name), file)))
  );
  console.log(annTable(records));
}
