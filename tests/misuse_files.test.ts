/**
 * Misuse of paths and downloads: loading, saving, reading and fetching where the
 * filesystem or the network says no. Every refusal names the path (or the URL) and what
 * is wrong, keeps the underlying error as `cause`, and leaves nothing behind: an existing
 * file keeps its bytes, no temporary or `.part` file stays, and a damaged archive is
 * deleted from the cache so that the next call downloads it again.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { gzipSync } from "node:zlib";
import {
  AlternatingLeastSquares,
  DataFileError,
  DownloadError,
  fetchLastfm360k,
  fetchMovielens,
  fetchTasteProfile,
  loadModel,
  MODEL_CLASSES,
  readDelimited,
  readLastfm360k,
  readMovielens,
  readTasteProfile,
  TacitFileError,
} from "../mod.ts";
import { writeFileAtomically } from "../lib/datasets/cache.ts";
import { lastfm360kPath } from "../lib/datasets/lastfm.ts";
import { extractTar } from "../lib/datasets/tar.ts";
import { extractZip } from "../lib/datasets/zip.ts";
import { readTacitFile, writeTacitFile } from "../lib/io/format.ts";
import { tar, zip } from "./archives.ts";
import { randomMatrix } from "./reference.ts";
import { serveDirectory } from "./serve.ts";
import { test } from "./harness.ts";

const isBun = typeof (globalThis as { Bun?: unknown }).Bun !== "undefined";
const isRoot = typeof process.getuid === "function" && process.getuid() === 0;
const quiet = { progress: false } as const;

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), "tacit-misuse-files-"));
}

type ErrorClass = new (...args: never[]) => Error;

/**
 * Asserts that `promise` rejects with a `type` whose message names `path` and matches
 * `pattern`, and whose `path` (or `url`) property is `path`; returns the error.
 */
async function refused(
  promise: Promise<unknown>,
  type: ErrorClass,
  path: string,
  pattern: RegExp,
): Promise<Error & { path?: string; url?: string; cause?: unknown }> {
  let caught: unknown;
  await assert.rejects(promise, (error: unknown) => {
    caught = error;
    return true;
  });
  const error = caught as Error & { path?: string; url?: string };
  assert.ok(error instanceof type, `expected a ${type.name} but found ${error}`);
  assert.equal(error.name, type.name);
  assert.ok(error.message.includes(path), `the message names ${path}: ${error.message}`);
  assert.match(error.message, pattern);
  assert.equal(error.path ?? error.url, path);
  return error;
}

/** Every way to load a tacit file: each model class's `load`, `loadModel`, `readTacitFile`. */
const LOADERS: [string, (path: string) => Promise<unknown>][] = [
  ...[...MODEL_CLASSES.values()].map((
    type,
  ): [string, (path: string) => Promise<unknown>] => [`${type.name}.load`, (p) => type.load(p)]),
  ["loadModel", loadModel],
  ["readTacitFile", (p) => readTacitFile(p)],
];

/** Every reader of a data file or archive that takes a path. */
const READERS: [string, (path: string) => Promise<unknown>][] = [
  ["readDelimited", (p) => readDelimited(p, { user: 0, item: 1 })],
  ["readLastfm360k", (p) => readLastfm360k(p)],
  ["readTasteProfile", (p) => readTasteProfile(p)],
  ["readMovielens", (p) => readMovielens(p)],
  ["extractTar", (p) => extractTar(p, () => undefined)],
  ["extractZip", (p) => extractZip(p, () => undefined)],
];

// ---------------------------------------------------------------- loading

test("every load() of a directory is a TacitFileError naming it, not a raw EISDIR", async () => {
  const dir = tempDir();
  for (const [name, load] of LOADERS) {
    await refused(
      load(dir),
      TacitFileError,
      dir,
      /^Expected a tacit file at .* but found a directory$/,
    )
      .catch((error) => assert.fail(`${name}: ${error.message}`));
  }
});

test("every load() of a missing file names it and keeps the filesystem's error as cause", async () => {
  const dir = tempDir();
  const path = join(dir, "gone", "model.tacit");
  writeFileSync(join(dir, "plain"), "");
  const underAFile = join(dir, "plain", "model.tacit"); // ENOTDIR: no such file either
  for (const [name, load] of LOADERS) {
    const error = await refused(load(path), TacitFileError, path, /but found no file$/);
    assert.equal((error.cause as { code?: string })?.code, "ENOENT", name);
    const notDir = await refused(load(underAFile), TacitFileError, underAFile, /found no file/);
    assert.equal((notDir.cause as { code?: string })?.code, "ENOTDIR", name);
  }
});

test("every load() of an empty file says the file is empty", async () => {
  const path = join(tempDir(), "empty.tacit");
  writeFileSync(path, "");
  for (const [, load] of LOADERS) {
    await refused(load(path), TacitFileError, path, /but found an empty file$/);
  }
});

if (isRoot) {
  test("load() and the readers of a file without read permission: skipped: running as root, which reads every file whatever its mode", () => {});
} else {
  test("load() and the readers of a file without read permission say so, naming it", async () => {
    const dir = tempDir();
    const path = join(dir, "locked");
    writeFileSync(path, "u\ti\t1\n");
    chmodSync(path, 0o000);
    for (const [, load] of LOADERS) {
      const error = await refused(load(path), TacitFileError, path, /not permitted to read it/);
      assert.match(String((error.cause as { code?: string })?.code), /^(EACCES|EPERM)$/);
    }
    for (const [, read] of READERS) {
      await refused(read(path), DataFileError, path, /not permitted to read it \((EACCES|EPERM)\)/);
    }
  });
}

// ---------------------------------------------------------------- readers

test("every reader of a directory, a missing file or an empty file throws a DataFileError naming it", async () => {
  const dir = tempDir();
  const missing = join(dir, "missing.tsv");
  const empty = join(dir, "empty.tsv");
  writeFileSync(empty, "");
  for (const [name, read] of READERS) {
    const pattern = name === "readMovielens"
      ? /to hold ratings\.csv, ratings\.dat or u\.data but found none/ // a folder is searched
      : name.startsWith("extract")
      ? /^Expected an? (zip )?archive at .* but found a directory$/
      : /^Expected a data file at .* but found a directory$/;
    await refused(read(dir), DataFileError, dir, pattern);
    const error = await refused(read(missing), DataFileError, missing, /but found no file/);
    assert.equal((error.cause as { code?: string })?.code, "ENOENT", name);
    if (name !== "extractTar") { // a tar of no blocks holds no entries
      await refused(read(empty), DataFileError, empty, /found an empty file|no end-of-directory/);
    }
  }
});

test("readMovielens names a titles file that cannot be read", async () => {
  const dir = tempDir();
  writeFileSync(join(dir, "u.data"), "1\t10\t4\t0\n");
  mkdirSync(join(dir, "u.item"));
  await refused(
    readMovielens(dir),
    DataFileError,
    join(dir, "u.item"),
    /Expected a data file at .*u\.item but found a directory/,
  );
});

test("readers refuse a path that is not a string by its type", async () => {
  for (const [name, read] of READERS.slice(0, 4)) {
    await assert.rejects(read(undefined as unknown as string), (error: Error) => {
      assert.ok(error instanceof TypeError, `${name}: ${error}`);
      assert.match(error.message, /Expected path to be a non-empty string but found undefined/);
      return true;
    });
  }
});

// ---------------------------------------------------------------- saving

async function smallModel(): Promise<AlternatingLeastSquares> {
  return await new AlternatingLeastSquares({ factors: 2, iterations: 1, randomState: 1 })
    .fit(randomMatrix(6, 5, 0.5, 3), quiet);
}

test("250- and 255-byte file names save and load: the temporary's name is short whatever the target's", async () => {
  const dir = tempDir();
  const model = await smallModel();
  const names = ["m".repeat(244) + ".tacit", "n".repeat(249) + ".tacit"];
  for (const name of names) {
    assert.equal(new TextEncoder().encode(name).length, name === names[0] ? 250 : 255);
    // The temporary sits beside the target, so opening it would fail were its name over
    // 255 bytes (the old `.${name}.${pid}.${random}.tmp` was 25 bytes longer than the name).
    await model.save(join(dir, name));
    const loaded = await AlternatingLeastSquares.load(join(dir, name));
    assert.deepEqual(loaded.itemFactors.data, model.itemFactors.data);
  }
  assert.deepEqual(readdirSync(dir).sort(), names.sort());
  const long = "p".repeat(255);
  async function* chunks() {
    yield new TextEncoder().encode("abc");
  }
  assert.equal(await writeFileAtomically(join(dir, long), chunks()), 3);
  assert.equal(readFileSync(join(dir, long), "utf8"), "abc");
  assert.deepEqual(readdirSync(dir).sort(), [...names, long].sort());
});

test("a save that fails names the path and why, keeps what was there and leaves no temporary", async () => {
  const dir = tempDir();
  const model = await smallModel();
  const tooLong = join(dir, "q".repeat(256));
  await refused(model.save(tooLong), TacitFileError, tooLong, /longer than the filesystem allows/);
  const inTheWay = join(dir, "folder.tacit");
  mkdirSync(inTheWay);
  writeFileSync(join(inTheWay, "keep"), "kept");
  await refused(model.save(inTheWay), TacitFileError, inTheWay, /a directory is in the way/);
  assert.equal(readFileSync(join(inTheWay, "keep"), "utf8"), "kept");
  const nowhere = join(dir, "no-such-dir", "x.tacit");
  await refused(model.save(nowhere), TacitFileError, nowhere, /its directory does not exist/);
  assert.deepEqual(readdirSync(dir), ["folder.tacit"]);
  assert.deepEqual(readdirSync(inTheWay), ["keep"]);
});

if (process.platform === "win32") {
  test("a save that runs out of room: skipped: needs a POSIX shell's ulimit -f", () => {});
} else {
  test("a save that runs out of room (a file-size limit) leaves the old file byte for byte and no temporary", async () => {
    const dir = tempDir();
    const old = join(dir, "model.tacit");
    const oldArrays = join(dir, "arrays.tacit");
    await (await smallModel()).save(old);
    await writeTacitFile(oldArrays, {
      kind: "x",
      params: {},
      arrays: { a: { array: Float32Array.of(1, 2, 3), shape: [3] } },
    });
    const before = [readFileSync(old), readFileSync(oldArrays)];
    const big = join(dir, "big.tacit");
    const bigModel = await new AlternatingLeastSquares({
      factors: 64,
      iterations: 1,
      randomState: 2,
    })
      .fit(randomMatrix(3000, 1000, 0.01, 4), quiet);
    await bigModel.save(big);
    const script = join(dir, "save.ts");
    const url = (path: string) => JSON.stringify(new URL(path, import.meta.url).href);
    // Two saves: a model's (several arrays), and one whose only array ends the file, where
    // a short last write (Bun's answer at the limit) used to pass for a finished save.
    writeFileSync(
      script,
      `import { loadModel } from ${url("../mod.ts")};
import { writeTacitFile } from ${url("../lib/io/format.ts")};
const model = await loadModel(${JSON.stringify(big)});
const array = new Float32Array(2 ** 18);
for (const save of [
  () => model.save(${JSON.stringify(old)}),
  () => writeTacitFile(${
        JSON.stringify(oldArrays)
      }, { kind: "x", params: {}, arrays: { a: { array, shape: [array.length] } } }),
]) {
  try {
    await save();
    console.log(JSON.stringify({ saved: true }));
  } catch (error) {
    console.log(JSON.stringify({ name: error.name, message: error.message, path: error.path }));
  }
}
`,
    );
    // A limit of 64 blocks (32 or 64 KiB) stops each 1 MB save midway; SIGXFSZ is ignored so
    // that the write fails with EFBIG, as it would on a full disk with ENOSPC.
    const runtime = isBun ? [process.execPath, script] : [process.execPath, "run", "-A", script];
    const result = spawnSync(
      "sh",
      ["-c", `trap '' XFSZ; ulimit -f 64; exec "$@"`, "sh", ...runtime],
      { encoding: "utf8", env: { ...process.env, TACIT_PROGRESS: "0" } },
    );
    assert.equal(result.status, 0, result.stdout + result.stderr);
    const outcomes = result.stdout.trim().split("\n").map((line) => JSON.parse(line));
    assert.equal(outcomes.length, 2, result.stdout);
    for (const [k, path] of [old, oldArrays].entries()) {
      assert.deepEqual(readFileSync(path), before[k], `${path} kept its bytes`);
    }
    for (const [k, path] of [old, oldArrays].entries()) {
      const outcome = outcomes[k];
      assert.equal(outcome.name, "TacitFileError", result.stdout);
      assert.equal(outcome.path, path);
      assert.ok(outcome.message.startsWith(`Could not save tacit file ${path}: `), outcome.message);
      assert.match(outcome.message, /larger than allowed \(EFBIG\)|disk is full \(ENOSPC\)/);
    }
    assert.deepEqual(readdirSync(dir).sort(), [
      "arrays.tacit",
      "big.tacit",
      "model.tacit",
      "save.ts",
    ]);
  });
}

// ---------------------------------------------------------------- the download cache

const LASTFM_TSV = "u1\tmb-a\tABBA\t10\nu2\tmb-a\tABBA\t3\nu2\t\tBach\t5\n";

function lastfmArchive(): Uint8Array {
  return new Uint8Array(
    gzipSync(tar({ "lastfm-dataset-360K/usersha1-artmbid-artname-plays.tsv": LASTFM_TSV })),
  );
}

function movielensArchive(): Uint8Array<ArrayBuffer> {
  return zip({
    "ml-latest-small/ratings.csv": "userId,movieId,rating,timestamp\n1,10,4.5,0\n",
    "ml-latest-small/movies.csv": 'movieId,title,genres\n10,"Heat (1995)",Action\n',
  });
}

/** A zip like {@link movielensArchive} whose second entry has a byte of its deflate data changed. */
function movielensArchiveDamagedTitles(): Uint8Array<ArrayBuffer> {
  const bytes = movielensArchive();
  const name = new TextEncoder().encode("ml-latest-small/movies.csv");
  const at = bytes.findIndex((_, k) => name.every((b, j) => bytes[k + j] === b));
  bytes[at + name.length + 2]! ^= 0x5a; // the first name is the local header's; data follows it
  return bytes;
}

/** Runs `body` against a server over a fresh folder; the folder and the server are passed. */
async function withServer(
  body: (
    served: string,
    server: { url: string; requests: string[] },
  ) => Promise<void>,
): Promise<void> {
  const served = tempDir();
  const server = await serveDirectory(served);
  try {
    await body(served, server);
  } finally {
    await server.close();
  }
}

test("a damaged archive already in the cache is refused naming it, deleted, and the next call downloads it again", async () => {
  await withServer(async (served, server) => {
    const good = lastfmArchive();
    writeFileSync(join(served, "lastfm.tar.gz"), good);
    const cache = tempDir();
    const folder = join(cache, "lastfm-360k");
    mkdirSync(folder);
    const archive = join(folder, "lastfm-dataset-360K.tar.gz");
    writeFileSync(archive, good.subarray(0, good.length - 20)); // an interrupted copy
    const options = { dataDir: cache, url: server.url + "lastfm.tar.gz", ...quiet };
    const error = await refused(
      fetchLastfm360k(options),
      DataFileError,
      archive,
      /is damaged: its gzip data cannot be read .*; it was removed from the cache and will be downloaded again from http:\/\/127\.0\.0\.1:\d+\/lastfm\.tar\.gz on the next call$/,
    );
    assert.ok(error.cause instanceof DataFileError);
    assert.deepEqual(server.requests, []); // it was in the cache: nothing was downloaded
    assert.deepEqual(readdirSync(folder), []);
    const again = await fetchLastfm360k(options);
    assert.deepEqual(server.requests, ["/lastfm.tar.gz"]);
    assert.deepEqual(again.users, ["u1", "u2"]);
    assert.deepEqual(readdirSync(folder), ["usersha1-artmbid-artname-plays.tsv"]);
  });
});

test("a damaged download is refused and deleted with what was extracted from it, for tar.gz and zip", async () => {
  await withServer(async (served, server) => {
    const cache = tempDir();
    // gzip whose data fails its CRC-32 (a flipped byte in the deflate stream).
    const flipped = lastfmArchive();
    flipped[flipped.length - 30]! ^= 0x55;
    writeFileSync(join(served, "lastfm.tar.gz"), flipped);
    const lastfmFolder = join(cache, "lastfm-360k");
    await refused(
      fetchLastfm360k({ dataDir: cache, url: server.url + "lastfm.tar.gz", ...quiet }),
      DataFileError,
      join(lastfmFolder, "lastfm-dataset-360K.tar.gz"),
      /is damaged: .*it was removed from the cache and will be downloaded again/,
    );
    assert.deepEqual(readdirSync(lastfmFolder), []);

    // A zip whose ratings entry is sound but whose titles entry is damaged: neither file is
    // kept, so the next call cannot return ratings without their titles.
    writeFileSync(join(served, "ml.zip"), movielensArchiveDamagedTitles());
    const mlFolder = join(cache, "movielens", "ml-latest-small");
    const options = { dataDir: cache, url: server.url + "ml.zip", ...quiet };
    await refused(
      fetchMovielens("latest-small", options),
      DataFileError,
      join(mlFolder, "ml-latest-small.zip"),
      /ml-latest-small\.zip is damaged: .*movies\.csv.*; it was removed from the cache/,
    );
    assert.deepEqual(readdirSync(mlFolder), []);
    writeFileSync(join(served, "ml.zip"), movielensArchive());
    const movies = await fetchMovielens("latest-small", options);
    assert.deepEqual(movies.itemNames, ["Heat (1995)"]);
    assert.deepEqual(server.requests, ["/lastfm.tar.gz", "/ml.zip", "/ml.zip"]);
  });
});

test("an answer that is not an archive at all (an HTML page) is refused and deleted, for every fetch helper", async () => {
  await withServer(async (served, server) => {
    const cache = tempDir();
    writeFileSync(join(served, "page.html"), "<html><body>Please log in</body></html>\n");
    const url = server.url + "page.html";
    const cases: [() => Promise<unknown>, string, RegExp][] = [
      [
        () => fetchLastfm360k({ dataDir: cache, url, ...quiet }),
        join(cache, "lastfm-360k", "lastfm-dataset-360K.tar.gz"),
        /to be gzip-compressed \(by its name\) but it does not start with the gzip magic bytes/,
      ],
      [
        () => fetchMovielens("1m", { dataDir: cache, url, ...quiet }),
        join(cache, "movielens", "ml-1m", "ml-1m.zip"),
        /to be a zip archive but found no end-of-directory record/,
      ],
      [
        () => fetchTasteProfile({ dataDir: cache, url, ...quiet }),
        join(cache, "msd-taste-profile", "train_triplets.txt.zip"),
        /to be a zip archive but found no end-of-directory record/,
      ],
    ];
    for (const [fetchIt, archive, pattern] of cases) {
      await refused(fetchIt(), DataFileError, archive, pattern);
      assert.ok(!existsSync(archive), `${archive} was deleted`);
    }
  });
});

test("an archive without the wanted file is refused and deleted, so a corrected mirror is downloaded", async () => {
  await withServer(async (served, server) => {
    const cache = tempDir();
    writeFileSync(join(served, "other.tar.gz"), gzipSync(tar({ "x/README": "hello" })));
    writeFileSync(join(served, "lastfm.tar.gz"), lastfmArchive());
    const archive = join(cache, "lastfm-360k", "lastfm-dataset-360K.tar.gz");
    await refused(
      fetchLastfm360k({ dataDir: cache, url: server.url + "other.tar.gz", ...quiet }),
      DataFileError,
      archive,
      /to hold usersha1-artmbid-artname-plays\.tsv but found .*x\/README; it was removed/,
    );
    assert.ok(!existsSync(archive));
    const fixed = await fetchLastfm360k({ dataDir: cache, url: server.url + "lastfm.tar.gz" });
    assert.equal(fixed.matrix.nnz, 3);
  });
});

test("an unreachable URL is a DownloadError naming the URL, the runtime's error as cause", async () => {
  const closed = createServer();
  await new Promise<void>((done) => closed.listen(0, "127.0.0.1", done));
  const { port } = closed.address() as AddressInfo;
  await new Promise((done) => closed.close(done));
  const url = `http://127.0.0.1:${port}/ml-100k.zip`;
  const cache = tempDir();
  const error = await refused(
    fetchMovielens("100k", { dataDir: cache, url, ...quiet }),
    DownloadError,
    url,
    /^Expected an answer from http:\/\/127\.0\.0\.1:\d+\/ml-100k\.zip but the request failed: /,
  );
  assert.ok(error.cause !== undefined);
  assert.equal((error as DownloadError).status, undefined);
  assert.deepEqual(readdirSync(join(cache, "movielens", "ml-100k")), []);
});

test("an HTTP error status is a DownloadError naming the URL and the status", async () => {
  await withServer(async (_served, server) => {
    const url = server.url + "missing.zip";
    const error = await refused(
      fetchTasteProfile({ dataDir: tempDir(), url, ...quiet }),
      DownloadError,
      url,
      /^Expected http:\/\/127\.0\.0\.1:\d+\/missing\.zip to answer 200 OK but it answered 404 Not Found$/,
    );
    assert.equal((error as DownloadError).status, 404);
  });
});

test("a transfer that breaks off, or ends short of its content-length, names the URL and leaves no .part file", async () => {
  const archive = movielensArchive();
  const server = createServer((_request, response) => {
    response.writeHead(200, { "content-length": String(archive.length) });
    response.write(archive.subarray(0, 40), () => response.destroy());
  });
  await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/ml.zip`;
  const cache = tempDir();
  const folder = join(cache, "movielens", "ml-latest-small");
  try {
    await refused(
      fetchMovielens("latest-small", { dataDir: cache, url, ...quiet }),
      DownloadError,
      url,
      /broke off after \d+ bytes|ended after \d+/,
    );
  } finally {
    server.closeAllConnections?.();
    await new Promise((done) => server.close(done));
  }
  assert.deepEqual(readdirSync(folder), []);

  // A body shorter than the content-length the answer declared (no transfer error).
  const original = globalThis.fetch;
  globalThis.fetch = (() =>
    Promise.resolve(
      new Response(archive.subarray(0, 40), {
        headers: { "content-length": String(archive.length) },
      }),
    )) as typeof fetch;
  try {
    await refused(
      fetchMovielens("latest-small", { dataDir: cache, url, ...quiet }),
      DownloadError,
      url,
      new RegExp(`^Expected ${archive.length} bytes from .* but the transfer ended after 40$`),
    );
  } finally {
    globalThis.fetch = original;
  }
  assert.deepEqual(readdirSync(folder), []);
});

test("stale .part files of an interrupted run are deleted; a fresh one (a download in progress) is kept", async () => {
  const cache = tempDir();
  const folder = join(cache, "lastfm-360k");
  mkdirSync(folder);
  writeFileSync(lastfm360kPath(cache), LASTFM_TSV);
  const stale = [".tacit-0123456789ab.part", "lastfm-dataset-360K.tar.gz.part"];
  const hourAgo = new Date(Date.now() - 3_600_000);
  for (const name of stale) {
    writeFileSync(join(folder, name), "half an archive");
    utimesSync(join(folder, name), hourAgo, hourAgo);
  }
  writeFileSync(join(folder, ".tacit-aaaaaaaaaaaa.part"), "being written");
  const original = globalThis.fetch;
  globalThis.fetch = (() => Promise.reject(new Error("no download expected"))) as typeof fetch;
  try {
    const cached = await fetchLastfm360k({ dataDir: cache, ...quiet });
    assert.equal(cached.matrix.nnz, 3);
  } finally {
    globalThis.fetch = original;
  }
  assert.deepEqual(readdirSync(folder).sort(), [
    ".tacit-aaaaaaaaaaaa.part",
    "usersha1-artmbid-artname-plays.tsv",
  ]);
});
