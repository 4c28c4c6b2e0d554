/**
 * The CLI end to end, each command a child process of the runtime running the tests
 * (`deno run -A cli.ts` under deno test, `bun cli.ts` under bun test): on a generated
 * lastfm-format file and on a delimited file with a header, fit → recommend (two shards
 * whose union is the unsharded output) → similar → evaluate → split → export → info;
 * every bad argument gives one line on stderr and its documented exit code; and the
 * `bun build --compile` executable runs from a bare directory.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { importFactorsParquet, readRecommendationsParquet } from "../parquet.ts";
import { AlternatingLeastSquares, CsrMatrix } from "../mod.ts";
import { listeningDataset } from "../lib/datasets/synthetic.ts";
import { EXIT } from "../lib/cli/errors.ts";
import { test } from "./harness.ts";

declare const Bun: unknown;
const isBun = typeof Bun !== "undefined";
const root = fileURLToPath(new URL("..", import.meta.url));
const cli = join(root, "cli.ts");
const dir = mkdtempSync(join(tmpdir(), "tacit-cli-"));

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

function run(
  file: string,
  args: string[],
  env: Record<string, string | undefined> = {},
  cwd = dir,
) {
  return new Promise<Result>((resolve) => {
    execFile(file, args, {
      cwd,
      timeout: 60_000,
      maxBuffer: 1 << 24,
      env: { ...process.env, NO_COLOR: "1", ...env },
    }, (error, stdout, stderr) => {
      const code = error === null ? 0 : (error as { code?: unknown }).code;
      resolve({ code: typeof code === "number" ? code : -1, stdout, stderr });
    });
  });
}

/** Runs `tacit ...args` under this runtime. */
function tacit(...args: string[]): Promise<Result> {
  return run(process.execPath, isBun ? [cli, ...args] : ["run", "-A", cli, ...args]);
}

/** Runs it, expects exit 0, returns the JSON summary. */
async function ok(...args: string[]): Promise<Record<string, any>> {
  const result = await tacit(...args);
  assert.equal(result.code, 0, `tacit ${args.join(" ")}\n${result.stderr}`);
  return JSON.parse(result.stdout);
}

const read = (name: string) => readFileSync(join(dir, name), "utf8");
const lines = (name: string) => read(name).split("\n").filter((line) => line !== "");

// A lastfm-format file (user sha, artist mbid, artist name, plays) and the same plays
// as a CSV with a header and other column names.
const data = listeningDataset({
  users: 240,
  itemsPerGenre: 8,
  genres: ["rock", "jazz", "folk"],
  seed: 5,
});
let tsv = "";
let csv = "listener,artist,plays\n";
for (let u = 0; u < data.plays.nRows; u++) {
  const { indptr, indices, data: values } = data.plays;
  for (let p = indptr[u]!; p < indptr[u + 1]!; p++) {
    const i = indices[p]!;
    tsv += `sha-${u}\tmb-${i}\t${data.itemNames[i]}\t${values[p]}\n`;
    csv += `l${u},"${data.itemNames[i]}, live",${values[p]}\n`;
  }
}
writeFileSync(join(dir, "plays.tsv"), tsv);
writeFileSync(join(dir, "plays.csv"), csv);
const LASTFM = ["--input", "plays.tsv", "--input-format", "lastfm", "--no-progress"];
const DELIMITED = [
  "--input",
  "plays.csv",
  "--header",
  "--user-col",
  "listener",
  "--item-col",
  "artist",
  "--weight-col",
  "plays",
  "--no-progress",
];

/** Checks two shards' rows: disjoint, each complete for its users, union = the whole. */
function assertShardsUnion(whole: string[], parts: string[][], key: (line: string) => string) {
  const [header, ...rows] = whole;
  const body = parts.map(([first, ...rest]) => {
    assert.equal(first, header);
    return rest;
  });
  assert.deepEqual(body.flat().sort(), [...rows].sort());
  const owners = body.map((part) => new Set(part.map(key)));
  for (const name of owners[0]!) assert.ok(!owners[1]!.has(name), `${name} is in both shards`);
}

test("tacit on a lastfm file: fit, recommend in two shards whose union is the whole, similar, evaluate, split, export, info", async () => {
  const fitted = await ok(
    "fit",
    ...LASTFM,
    "--model",
    "als",
    "--factors",
    "8",
    "--iterations",
    "6",
    "--random-state",
    "3",
    "--model-file",
    "m.tacit",
  );
  assert.equal(fitted.model, "als");
  assert.equal(fitted.parameters.factors, 8);
  assert.deepEqual([fitted.users, fitted.items, fitted.interactions], [240, 24, data.plays.nnz]);
  assert.ok(existsSync(join(dir, "m.tacit.data")));

  const whole = await ok(
    "recommend",
    "--model-file",
    "m.tacit",
    "--n",
    "5",
    "--output",
    "recs.csv",
    "--no-progress",
  );
  assert.deepEqual([whole.users, whole.rows], [240, 240 * 5]);
  const all = lines("recs.csv");
  assert.equal(all[0], "user,rank,item,score");
  assert.match(all[1]!, /^sha-0,1,mb-\d+,[-\d.e]+$/);
  // No liked item is recommended.
  const liked = new Set(tsv.split("\n").map((line) => line.split("\t").slice(0, 2).join(",")));
  for (const row of all.slice(1)) {
    const [user, , item] = row.split(",");
    assert.ok(!liked.has(`${user},${item}`), `${user} already has ${item}`);
  }
  for (const i of [0, 1]) {
    const part = await ok(
      "recommend",
      "--model-file",
      "m.tacit",
      "--n",
      "5",
      "--shard",
      `${i}/2`,
      "--output",
      `recs-${i}.csv`,
      "--no-progress",
    );
    assert.equal(part.shard, `${i}/2`);
    assert.equal(part.users, 120);
  }
  assertShardsUnion(all, [lines("recs-0.csv"), lines("recs-1.csv")], (line) => line.split(",")[0]!);
  // A rerun replaces the output whole, and leaves no temporary behind.
  writeFileSync(join(dir, "recs-0.csv"), "stale\n".repeat(100_000));
  await ok(
    "recommend",
    "--model-file",
    "m.tacit",
    "--n",
    "5",
    "--shard",
    "0/2",
    "--output",
    "recs-0.csv",
    "--no-progress",
  );
  assertShardsUnion(all, [lines("recs-0.csv"), lines("recs-1.csv")], (line) => line.split(",")[0]!);
  assert.deepEqual(readdirSync(dir).filter((name) => name.startsWith(".tacit-")), []);

  // The same recommendations as Parquet (`user, rank, item, score`), read back by
  // parquet.ts's reader: the rows of the CSV, in order, scores as float32.
  await ok(
    "recommend",
    "--model-file",
    "m.tacit",
    "--n",
    "5",
    "--output",
    "recs.parquet",
    "--no-progress",
  );
  const table = await readRecommendationsParquet(join(dir, "recs.parquet"));
  assert.deepEqual(
    all.slice(1).map((row) => row.split(",").slice(0, 3).join(",")),
    table.user.map((user, k) => `${user},${table.rank[k]},${table.item[k]}`),
  );
  all.slice(1).forEach((row, k) =>
    assert.equal(table.score[k], Math.fround(Number(row.split(",")[3])))
  );

  const similar = await ok(
    "similar",
    "--model-file",
    "m.tacit",
    "--n",
    "3",
    "--output",
    "similar.jsonl",
    "--no-progress",
  );
  assert.deepEqual([similar.items, similar.rows], [24, 72]);
  const first = JSON.parse(lines("similar.jsonl")[0]!);
  assert.deepEqual(Object.keys(first), ["item", "rank", "similar", "score"]);
  assert.equal(first.rank, 1);
  for (const i of [0, 1]) {
    await ok(
      "similar",
      "--model-file",
      "m.tacit",
      "--n",
      "3",
      "--shard",
      `${i}/2`,
      "--output",
      `similar-${i}.jsonl`,
      "--no-progress",
    );
  }
  const union = [...lines("similar-0.jsonl"), ...lines("similar-1.jsonl")].sort();
  assert.deepEqual(union, lines("similar.jsonl").sort());

  const evaluated = await ok(
    "evaluate",
    ...LASTFM,
    "--model",
    "als",
    "--factors",
    "8",
    "--random-state",
    "1",
    "--split-seed",
    "2",
    "--cutoff",
    "5",
  );
  assert.equal(evaluated.k, 5);
  assert.ok(evaluated.users > 0);
  assert.ok(
    evaluated.precision > 0.2 && evaluated.precision <= 1,
    `precision ${evaluated.precision}`,
  );
  assert.equal(evaluated.train + evaluated.test, data.plays.nnz);

  const split = await ok(
    "split",
    ...LASTFM,
    "--method",
    "leave-k-out",
    "--leave-out",
    "1",
    "--split-seed",
    "4",
    "--output",
    "split.csv",
  );
  assert.equal(split.rows, data.plays.nnz);
  const splitRows = lines("split.csv");
  assert.equal(splitRows[0], "user,item,value,split");
  assert.equal(splitRows.filter((row) => row.endsWith(",test")).length, split.test);

  const exportedCsv = await ok(
    "export",
    "--model-file",
    "m.tacit",
    "--factors",
    "items",
    "--output",
    "items.csv",
  );
  assert.deepEqual([exportedCsv.rows, exportedCsv.rank], [24, 8]);
  assert.equal(
    lines("items.csv")[0],
    "id," + Array.from({ length: 8 }, (_, k) => `features_${k}`).join(","),
  );
  await ok("export", "--model-file", "m.tacit", "--factors", "users", "--output", "users.jsonl");
  const user = JSON.parse(lines("users.jsonl")[0]!);
  assert.equal(user.id, "sha-0");
  assert.equal(user.features.length, 8);
  // Parquet in Spark ALS's layout: the exported pair imports into a fresh model that
  // recommends exactly as the fitted one (ids through the files' id columns).
  await ok("export", "--model-file", "m.tacit", "--factors", "users", "--output", "users.parquet");
  await ok("export", "--model-file", "m.tacit", "--factors", "items", "--output", "items.parquet");
  const fittedModel = await AlternatingLeastSquares.load(join(dir, "m.tacit"));
  const imported = new AlternatingLeastSquares({ factors: 8 });
  const maps = await importFactorsParquet(imported, {
    users: join(dir, "users.parquet"),
    items: join(dir, "items.parquet"),
  });
  assert.equal(maps.users.external(0), "sha-0");
  const probe = CsrMatrix.fromCoo({ rows: [], cols: [], shape: [240, 24] });
  assert.deepEqual(
    imported.recommend([0, 1, 2], probe, { n: 5 }),
    fittedModel.recommend([0, 1, 2], probe, { n: 5 }),
  );

  const information = await ok("info", "--model-file", "m.tacit");
  assert.equal(information.modelFile.kind, "als");
  assert.equal(information.modelFile.users, 240);
  assert.ok(information.threads >= 1);
});

test("tacit on a delimited file with a header: a neighbour model's recommendations carry the file's ids", async () => {
  const fitted = await ok(
    "fit",
    ...DELIMITED,
    "--model",
    "bm25",
    "--k",
    "10",
    "--k1",
    "1.5",
    "--model-file",
    "n.tacit",
  );
  assert.deepEqual(fitted.parameters, { k: 10, numThreads: 0, k1: 1.5, b: 0.75 });
  await ok(
    "recommend",
    "--model-file",
    "n.tacit",
    "--output",
    "n.jsonl",
    "--n",
    "4",
    "--no-progress",
  );
  const rows = lines("n.jsonl").map((line) => JSON.parse(line));
  assert.equal(rows[0].user, "l0");
  assert.match(rows[0].item, /^(rock|jazz|folk) artist \d+, live$/);
  for (const i of [0, 1]) {
    await ok(
      "recommend",
      "--model-file",
      "n.tacit",
      "--output",
      `n-${i}.jsonl`,
      "--n",
      "4",
      "--shard",
      `${i}/2`,
      "--no-progress",
    );
  }
  assert.deepEqual(
    [...lines("n-0.jsonl"), ...lines("n-1.jsonl")].sort(),
    lines("n.jsonl").sort(),
  );
  await ok("similar", "--model-file", "n.tacit", "--output", "n-similar.csv", "--no-progress");
  // A quoted id (it holds a comma) stays one field.
  assert.match(lines("n-similar.csv")[1]!, /^"(rock|jazz|folk) artist \d+, live",1,"/);
  const evaluated = await ok(
    "evaluate",
    ...DELIMITED,
    "--model",
    "itemitem",
    "--method",
    "user",
    "--split-seed",
    "1",
  );
  assert.equal(evaluated.method, "user");
  await ok("split", ...DELIMITED, "--output", "n-split.jsonl", "--split-seed", "1");
  assert.deepEqual(Object.keys(JSON.parse(lines("n-split.jsonl")[0]!)), [
    "user",
    "item",
    "value",
    "split",
  ]);
  const refused = await tacit("export", "--model-file", "n.tacit", "--output", "x.csv");
  assert.equal(refused.code, EXIT.usage);
  assert.match(refused.stderr, /^tacit: a bm25 model has no factors/);
});

const BAD: [string, number, string[], RegExp][] = [
  ["no command", EXIT.usage, [], /.*/],
  ["an unknown command", EXIT.usage, ["fitt"], /^tacit: unknown command 'fitt'/],
  [
    "an unknown flag",
    EXIT.usage,
    ["recommend", "--model-file", "m.tacit", "--bogus", "1"],
    /^tacit: unknown flag --bogus for 'tacit recommend'$/,
  ],
  ["an unknown model option", EXIT.usage, [
    "fit",
    ...LASTFM,
    "--model",
    "als",
    "--factorz",
    "3",
    "--model-file",
    "x.tacit",
  ], /unknown flag --factorz .*did you mean --factors/],
  ["another model's option", EXIT.usage, [
    "fit",
    ...LASTFM,
    "--model",
    "als",
    "--k1",
    "3",
    "--model-file",
    "x.tacit",
  ], /unknown flag --k1/],
  [
    "an unknown model",
    EXIT.usage,
    ["fit", ...LASTFM, "--model", "svd", "--model-file", "x.tacit"],
    /--model to be one of als, .* but found 'svd'/,
  ],
  ["a bad option value", EXIT.usage, [
    "fit",
    ...LASTFM,
    "--model",
    "als",
    "--factors",
    "many",
    "--model-file",
    "x.tacit",
  ], /^tacit: --factors: Expected factors to be a positive integer/],
  ["an option out of range", EXIT.usage, [
    "fit",
    ...LASTFM,
    "--model",
    "als",
    "--factors",
    "5000",
    "--model-file",
    "x.tacit",
  ], /--factors: .*at most 1024/],
  [
    "a flag without its value",
    EXIT.usage,
    ["recommend", "--model-file", "m.tacit", "--output"],
    /^tacit: --output needs a value/,
  ],
  ["a bad --n", EXIT.usage, [
    "recommend",
    "--model-file",
    "m.tacit",
    "--output",
    "o.csv",
    "--n",
    "0",
  ], /--n to be an integer in \[1, 100000\] but found '0'/],
  ["a stray argument", EXIT.usage, ["info", "extra"], /^tacit: unexpected argument 'extra'/],
  [
    "a missing --input",
    EXIT.usage,
    ["fit", "--model", "als", "--model-file", "x.tacit"],
    /^tacit: missing --input <path>$/,
  ],
  ["an unknown input format", EXIT.usage, [
    "split",
    "--input",
    "plays.tsv",
    "--input-format",
    "xls",
    "--output",
    "o.csv",
  ], /--input-format to be one of/],
  ["a missing input file", EXIT.input, [
    "fit",
    "--input",
    "no-such.tsv",
    "--input-format",
    "lastfm",
    "--model",
    "als",
    "--model-file",
    "x.tacit",
  ], /^tacit: Expected a data file at no-such.tsv but found no file$/],
  ["a malformed input line", EXIT.input, [
    "split",
    "--input",
    "plays.csv",
    "--input-format",
    "lastfm",
    "--output",
    "o.csv",
  ], /plays.csv:1: expected 4 fields/],
  ["a bad shard spec", EXIT.usage, [
    "recommend",
    "--model-file",
    "m.tacit",
    "--output",
    "o.csv",
    "--shard",
    "2/2",
  ], /^tacit: expected --shard to be i\/n .* but found '2\/2'$/],
  ["a shard spec that is not i/n", EXIT.usage, [
    "similar",
    "--model-file",
    "m.tacit",
    "--output",
    "o.csv",
    "--shard",
    "1-2",
  ], /--shard .* but found '1-2'/],
  ["an unreadable model file", EXIT.model, [
    "recommend",
    "--model-file",
    "plays.tsv",
    "--output",
    "o.csv",
  ], /^tacit: .*plays.tsv/],
  ["a missing model file", EXIT.model, [
    "similar",
    "--model-file",
    "none.tacit",
    "--output",
    "o.csv",
  ], /^tacit: .*none.tacit/],
  ["an unknown output format", EXIT.usage, [
    "recommend",
    "--model-file",
    "m.tacit",
    "--output",
    "o.csv",
    "--format",
    "xml",
  ], /--format to be one of csv, jsonl, parquet/],
  ["an output in a missing directory", EXIT.output, [
    "recommend",
    "--model-file",
    "m.tacit",
    "--output",
    "no/dir/o.csv",
    "--no-progress",
  ], /^tacit: could not write no\/dir\/o.csv: its directory does not exist/],
];

for (const [what, code, args, message] of BAD) {
  test(`tacit refuses ${what} with one line on stderr and exit ${code}`, async () => {
    if (!existsSync(join(dir, "m.tacit"))) {
      await ok(
        "fit",
        ...LASTFM,
        "--model",
        "als",
        "--factors",
        "4",
        "--iterations",
        "2",
        "--model-file",
        "m.tacit",
      );
    }
    const result = await tacit(...args);
    assert.equal(result.code, code, result.stderr);
    if (args.length === 0) return; // the command list, on stdout
    const errorLines = result.stderr.split("\n").filter((line) => line !== "");
    assert.equal(errorLines.length, 1, result.stderr);
    assert.match(errorLines[0]!, message);
    assert.equal(result.stdout, "");
  });
}

test("tacit <command> --help lists the command's flags, with a model's options once --model names it", async () => {
  const plain = await tacit("fit", "--help");
  assert.equal(plain.code, 0);
  assert.match(plain.stdout, /--input-format <format>/);
  assert.doesNotMatch(plain.stdout, /^ {2}--factors/m);
  const als = await tacit("fit", "--model", "als", "--help");
  assert.match(als.stdout, /--factors <value> +Latent factors/i);
  const all = await tacit("--help");
  for (const name of ["fit", "recommend", "similar", "evaluate", "split", "export", "info"]) {
    assert.match(all.stdout, new RegExp(`^  ${name} `, "m"));
  }
});

test("the bun build --compile executable runs from a bare directory with no node_modules, no Zig and no TACIT_LIB", async () => {
  if (!isBun) {
    console.log("skipped under Deno: the compiled executable is Bun's (bun test runs it)");
    return;
  }
  const bare = mkdtempSync(join(tmpdir(), "tacit-bare-"));
  try {
    const out = join(bare, "tacit");
    const built = await run(
      process.execPath,
      [join(root, "scripts", "compile_cli.ts"), "--out", out],
      {},
      root,
    );
    assert.equal(built.code, 0, built.stderr);
    writeFileSync(join(bare, "plays.tsv"), tsv);
    const env = {
      TACIT_LIB: undefined,
      XDG_CACHE_HOME: join(bare, "cache"),
      PATH: "/usr/bin:/bin",
    };
    const fitted = await run(
      out,
      ["fit", ...LASTFM, "--model", "als", "--factors", "4", "--model-file", "c.tacit"],
      env,
      bare,
    );
    assert.equal(fitted.code, 0, fitted.stderr);
    const recs = await run(
      out,
      ["recommend", "--model-file", "c.tacit", "--shard", "1/2", "--output", "r.csv"],
      env,
      bare,
    );
    assert.equal(recs.code, 0, recs.stderr);
    assert.equal(JSON.parse(recs.stdout).users, 120);
    // The library came out of the executable into the cache, named by its hash.
    assert.match(
      readdirSync(join(bare, "cache", "tacit")).join(),
      /libtacit-[0-9a-f]{16}\.(so|dylib)/,
    );
    const bad = await run(out, ["recommend", "--shard", "x"], env, bare);
    assert.equal(bad.code, EXIT.usage);
    assert.equal(bad.stderr.trim().split("\n").length, 1);
  } finally {
    rmSync(bare, { recursive: true, force: true });
  }
});

test("tacit stops a running fit on SIGINT with exit 130 and one line", async () => {
  const args = [
    "fit",
    ...LASTFM,
    "--model",
    "bpr",
    "--iterations",
    "100000",
    "--model-file",
    "never.tacit",
  ];
  const child = execFile(
    process.execPath,
    isBun ? [cli, ...args] : ["run", "-A", cli, ...args],
    { cwd: dir, env: { ...process.env, NO_COLOR: "1" } },
  );
  let stderr = "";
  child.stderr!.on("data", (chunk) => (stderr += chunk));
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  await new Promise((resolve) => setTimeout(resolve, 2500));
  // process.kill, not child.kill: Deno's child_process reports a child it signalled itself
  // as killed (code null) even when the child handled the signal and exited.
  process.kill(child.pid!, "SIGINT");
  const code = await exited;
  assert.equal(code, EXIT.aborted, stderr);
  assert.deepEqual(stderr.split("\n").filter((line) => line !== ""), ["tacit: aborted (SIGINT)"]);
  assert.ok(!existsSync(join(dir, "never.tacit")));
});
