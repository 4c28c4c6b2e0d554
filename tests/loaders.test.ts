import assert from "node:assert/strict";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { gzipSync } from "node:zlib";
import { Dataset } from "../lib/dataset.ts";
import { dataDir } from "../lib/datasets/cache.ts";
import { readDelimited } from "../lib/datasets/delimited.ts";
import { fetchLastfm360k, lastfm360kPath, readLastfm360k } from "../lib/datasets/lastfm.ts";
import { fetchMovielens, movielensPath, readMovielens } from "../lib/datasets/movielens.ts";
import { forEachLine, type Interactions, MalformedLineError } from "../lib/datasets/records.ts";
import { extractTar } from "../lib/datasets/tar.ts";
import { readTasteProfile } from "../lib/datasets/taste_profile.ts";
import { extractZip } from "../lib/datasets/zip.ts";
import { concat, tar, zip } from "./archives.ts";
import { test } from "./harness.ts";

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), "tacit-loaders-"));
}

function write(dir: string, name: string, content: string | Uint8Array): string {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
}

/** The matrix as `{ "user item": value }` with external ids, for exact comparisons. */
function entries(result: Interactions): Record<string, number> {
  const out: Record<string, number> = {};
  const { matrix, users, items } = result;
  for (let u = 0; u < matrix.nRows; u++) {
    const { indices, data } = matrix.row(u);
    for (let k = 0; k < indices.length; k++) out[`${users[u]} ${items[indices[k]!]}`] = data[k]!;
  }
  return out;
}

async function rejectsWith(promise: Promise<unknown>, text: string): Promise<void> {
  await assert.rejects(promise, (error: Error) => {
    assert.ok(error.message.includes(text), `expected "${text}" in "${error.message}"`);
    return true;
  });
}

/** Replaces the global fetch for one call. */
async function withFetch<T>(
  stub: (url: string) => Response,
  body: () => Promise<T>,
): Promise<{ result: T; urls: string[] }> {
  const original = globalThis.fetch;
  const urls: string[] = [];
  globalThis.fetch = ((input: string | URL | Request) => {
    const url = String(input instanceof Request ? input.url : input);
    urls.push(url);
    return Promise.resolve(stub(url));
  }) as typeof fetch;
  try {
    return { result: await body(), urls };
  } finally {
    globalThis.fetch = original;
  }
}

const noNetwork = (url: string): Response => {
  throw new Error(`test tried to download ${url}`);
};

// ---------------------------------------------------------------- lastfm

const LASTFM = [
  "00000c28\t3bd73256-3905-4f3a-97e2-8b341527f805\tbetty blowtorch\t2137",
  "00000c28\tf2fb0ff0-5679-42ec-a55c-15109ce6e320\tdie Ärzte\t1099",
  "",
  "00001411\t\tsöhne mannheims\t50",
  "00001411\t3bd73256-3905-4f3a-97e2-8b341527f805\tBetty Blowtorch\t3",
  "00000c28\tf2fb0ff0-5679-42ec-a55c-15109ce6e320\tdie Ärzte\t1",
  "00001411\t\tСплин\t7",
].join("\r\n");

test("readLastfm360k parses ids, names and plays exactly (CRLF, empty line, no final newline)", async () => {
  const path = write(tempDir(), "usersha1-artmbid-artname-plays.tsv", LASTFM);
  const result = await readLastfm360k(path, { progress: false });
  assert.deepEqual(result.users, ["00000c28", "00001411"]);
  assert.deepEqual(result.items, [
    "3bd73256-3905-4f3a-97e2-8b341527f805",
    "f2fb0ff0-5679-42ec-a55c-15109ce6e320",
    "söhne mannheims",
    "Сплин",
  ]);
  assert.deepEqual(result.itemNames, ["betty blowtorch", "die Ärzte", "söhne mannheims", "Сплин"]);
  assert.deepEqual(entries(result), {
    "00000c28 3bd73256-3905-4f3a-97e2-8b341527f805": 2137,
    "00000c28 f2fb0ff0-5679-42ec-a55c-15109ce6e320": 1100,
    "00001411 söhne mannheims": 50,
    "00001411 3bd73256-3905-4f3a-97e2-8b341527f805": 3,
    "00001411 Сплин": 7,
  });
  assert.deepEqual(result.matrix.shape, [2, 4]);
  assert.equal(result.skipped, 0);
  // The id lists give the same dense ids as a Dataset fitted on them.
  const dataset = new Dataset().fit(result.users, result.items);
  assert.equal(dataset.userId("00001411"), 1);
  assert.equal(dataset.itemId("Сплин"), 3);
  assert.equal(dataset.externalItem(1), "f2fb0ff0-5679-42ec-a55c-15109ce6e320");
});

test("readLastfm360k gives the same result for every chunk size, multi-byte names split across chunks", async () => {
  const path = write(tempDir(), "plays.tsv", LASTFM + "\n");
  const expected = await readLastfm360k(path, { progress: false });
  for (const chunkSize of [1, 2, 3, 5, 7, 13, 64]) {
    const result = await readLastfm360k(path, { progress: false, chunkSize });
    assert.deepEqual(result.items, expected.items, `chunkSize ${chunkSize}`);
    assert.deepEqual(result.itemNames, expected.itemNames, `chunkSize ${chunkSize}`);
    assert.deepEqual(entries(result), entries(expected), `chunkSize ${chunkSize}`);
  }
});

test("readLastfm360k keys artists by name with itemKey: 'name', as implicit does", async () => {
  const path = write(tempDir(), "plays.tsv", LASTFM);
  const result = await readLastfm360k(path, { progress: false, itemKey: "name" });
  assert.deepEqual(result.items, [
    "betty blowtorch",
    "die Ärzte",
    "söhne mannheims",
    "Betty Blowtorch",
    "Сплин",
  ]);
  assert.deepEqual(result.itemNames, result.items);
});

test("readLastfm360k names file:line for a malformed line, or skips and counts it", async () => {
  const dir = tempDir();
  const short = write(dir, "short.tsv", "u1\tm1\tA\t3\nu1\tB\n");
  await rejectsWith(
    readLastfm360k(short, { progress: false }),
    "short.tsv:2: expected 4 fields but found 2",
  );
  const text = write(dir, "text.tsv", "u1\tm1\tA\t3\n\nu2\tm1\tA\tlots\n");
  await rejectsWith(
    readLastfm360k(text, { progress: false }),
    "text.tsv:3: expected plays (field 4) to be a number but found 'lots'",
  );
  const empty = write(dir, "empty.tsv", "u1\t\t\t3\n");
  await rejectsWith(
    readLastfm360k(empty, { progress: false }),
    "empty.tsv:1: expected an artist mbid or name",
  );
  await assert.rejects(readLastfm360k(short, { progress: false }), MalformedLineError);

  const mixed = write(
    dir,
    "mixed.tsv",
    "u1\tm1\tA\t3\nu1\tB\nu2\tm2\tB\t\nu2\tm1\tA\t 4\nu2\tm2\tB\t5\n",
  );
  const result = await readLastfm360k(mixed, { progress: false, skipMalformed: true });
  assert.equal(result.skipped, 3);
  assert.deepEqual(entries(result), { "u1 m1": 3, "u2 m2": 5 });
});

test("minCount keeps items with enough users, then drops users left empty", async () => {
  const path = write(
    tempDir(),
    "plays.tsv",
    [
      "a\tm1\tOne\t1",
      "a\tm2\tTwo\t2",
      "b\tm2\tTwo\t3",
      "c\tm3\tThree\t4",
      "c\tm3\tThree\t4",
      "d\tm1\tOne\t5",
      "d\tm2\tTwo\t6",
    ].join("\n"),
  );
  const result = await readLastfm360k(path, { progress: false, minCount: 2 });
  assert.deepEqual(result.items, ["m1", "m2"]);
  assert.deepEqual(result.itemNames, ["One", "Two"]);
  assert.deepEqual(result.users, ["a", "b", "d"]);
  assert.deepEqual(entries(result), { "a m1": 1, "a m2": 2, "b m2": 3, "d m1": 5, "d m2": 6 });
  const three = await readLastfm360k(path, { progress: false, minCount: 3 });
  assert.deepEqual(three.items, ["m2"]);
  assert.deepEqual(three.users, ["a", "b", "d"]);
});

// ---------------------------------------------------------------- MovieLens

test("readMovielens reads u.data with Latin-1 titles from u.item, ratings as values", async () => {
  const dir = tempDir();
  write(
    dir,
    "u.data",
    "196\t242\t3\t881250949\n186\t302\t3\t891717742\n196\t302\t5\t881251000\n22\t377\t1\t878887116\n",
  );
  const latin1 = Uint8Array.from(
    [..."242|Kolya (1996)|24-Jan-1997||http://x|0|0\n302|L.A. Confidential (1997)|01-Jan-1997||http://y|0|0\n"]
      .map((c) => c.charCodeAt(0)),
  );
  const misérables = Uint8Array.from([..."377|Les Mis\xe9rables (1995)|01-Jan-1995||http://z|0|0\n"]
    .map((c) => c.charCodeAt(0)));
  write(dir, "u.item", concat([latin1, misérables]));
  const result = await readMovielens(join(dir, "u.data"), { progress: false });
  assert.deepEqual(result.users, ["196", "186", "22"]);
  assert.deepEqual(result.items, ["242", "302", "377"]);
  assert.deepEqual(result.itemNames, [
    "Kolya (1996)",
    "L.A. Confidential (1997)",
    "Les Misérables (1995)",
  ]);
  assert.deepEqual(entries(result), { "196 242": 3, "196 302": 5, "186 302": 3, "22 377": 1 });

  const high = await readMovielens(dir, { progress: false, minRating: 3 });
  assert.deepEqual(high.matrix.shape, [3, 3], "minRating keeps every id, as implicit does");
  assert.deepEqual(entries(high), { "196 242": 3, "196 302": 5, "186 302": 3 });
  assert.equal((await readMovielens(dir, { progress: false, titles: false })).itemNames, undefined);
});

test("readMovielens reads ratings.dat with :: and titles from movies.dat", async () => {
  const dir = tempDir();
  write(
    dir,
    "ratings.dat",
    "1::1193::5::978300760\r\n1::661::3::978302109\r\n2::1193::4.5::978298413",
  );
  write(
    dir,
    "movies.dat",
    "1193::One Flew Over the Cuckoo's Nest (1975)::Drama\n661::James and the Giant Peach (1996)::Animation|Children's|Musical\n",
  );
  const result = await readMovielens(join(dir, "ratings.dat"), { progress: false });
  assert.deepEqual(result.users, ["1", "2"]);
  assert.deepEqual(result.items, ["1193", "661"]);
  assert.deepEqual(result.itemNames, [
    "One Flew Over the Cuckoo's Nest (1975)",
    "James and the Giant Peach (1996)",
  ]);
  assert.deepEqual(entries(result), { "1 1193": 5, "1 661": 3, "2 1193": 4.5 });
});

test("readMovielens reads ratings.csv and quoted titles from movies.csv", async () => {
  const dir = tempDir();
  write(
    dir,
    "ratings.csv",
    "userId,movieId,rating,timestamp\n1,11,4.0,964982703\n1,3,3.5,964981247\n7,11,0.5,964982224\n",
  );
  write(
    dir,
    "movies.csv",
    [
      "movieId,title,genres",
      '11,"American President, The (1995)",Comedy|Drama|Romance',
      '3,"Rock ""n"" Roll, Part ""2"" (1999)",Comedy',
      "",
    ].join("\n"),
  );
  const result = await readMovielens(dir, { progress: false });
  assert.deepEqual(result.users, ["1", "7"]);
  assert.deepEqual(result.items, ["11", "3"]);
  assert.deepEqual(result.itemNames, [
    "American President, The (1995)",
    'Rock "n" Roll, Part "2" (1999)',
  ]);
  assert.deepEqual(entries(result), { "1 11": 4, "1 3": 3.5, "7 11": 0.5 });
  const filtered = await readMovielens(dir, { progress: false, minRating: 4 });
  assert.deepEqual(entries(filtered), { "1 11": 4 });
});

test("readMovielens reports ratings.csv:17 for a short line and rejects non-numeric ids and ratings", async () => {
  const dir = tempDir();
  const lines = ["userId,movieId,rating,timestamp"];
  for (let k = 1; k < 16; k++) lines.push(`${k},${k + 10},4,9`);
  lines.push("16,26");
  lines.push("17,27,abc,9");
  lines.push("u18,28,4,9");
  lines.push("19,29,5,9");
  const path = write(dir, "ratings.csv", lines.join("\n") + "\n");
  await rejectsWith(
    readMovielens(path, { progress: false }),
    "ratings.csv:17: expected 4 fields but found 2",
  );
  const result = await readMovielens(path, { progress: false, skipMalformed: true });
  assert.equal(result.skipped, 3);
  assert.equal(result.matrix.nnz, 16);
  assert.deepEqual(result.users.slice(-2), ["15", "19"]);

  const bad = write(tempDir(), "ratings.csv", "userId,movieId,rating,timestamp\n1,2,x,3\n");
  await rejectsWith(
    readMovielens(bad, { progress: false }),
    "ratings.csv:2: expected the rating (field 3) to be a number but found 'x'",
  );
  const noHeader = write(tempDir(), "ratings.csv", "1,2,3,4\n");
  await rejectsWith(
    readMovielens(noHeader, { progress: false }),
    "ratings.csv:1: expected a header with userId, movieId and rating",
  );
});

// ---------------------------------------------------------------- Million Song Dataset

test("readTasteProfile parses triplets and sums duplicates", async () => {
  const path = write(
    tempDir(),
    "train_triplets.txt",
    [
      "b80344d063b5ccb3212f76538f3d9e43d87dca9e\tSOAKIMP12A8C130995\t1",
      "b80344d063b5ccb3212f76538f3d9e43d87dca9e\tSOAPDEY12A81C210A9\t2",
      "85c1f87fea955d09b4bec2e36aee110927aedf9a\tSOAKIMP12A8C130995\t5",
      "b80344d063b5ccb3212f76538f3d9e43d87dca9e\tSOAKIMP12A8C130995\t1",
    ].join("\n") + "\n",
  );
  const result = await readTasteProfile(path, { progress: false });
  assert.deepEqual(result.users, [
    "b80344d063b5ccb3212f76538f3d9e43d87dca9e",
    "85c1f87fea955d09b4bec2e36aee110927aedf9a",
  ]);
  assert.deepEqual(result.items, ["SOAKIMP12A8C130995", "SOAPDEY12A81C210A9"]);
  assert.equal(result.itemNames, undefined);
  assert.deepEqual([...result.matrix.toDense()], [2, 2, 5, 0]);
  const popular = await readTasteProfile(path, { progress: false, minCount: 2 });
  assert.deepEqual(popular.items, ["SOAKIMP12A8C130995"]);
  const bad = write(tempDir(), "t.txt", "u\ts\t1\nu\ts\n");
  await rejectsWith(
    readTasteProfile(bad, { progress: false }),
    "t.txt:2: expected 3 fields but found 2",
  );
});

// ---------------------------------------------------------------- generic delimited

test("readDelimited splits RFC 4180 quoted fields with commas and doubled quotes", async () => {
  const path = write(
    tempDir(),
    "events.csv",
    [
      "user,item,kind,count",
      'alice,"Hello, World",view,2',
      '"bob ""the builder""",plain,buy,3',
      '"alice","Hello, World","",1',
      'carol,"",x,1',
    ].join("\r\n"),
  );
  const result = await readDelimited(path, {
    header: true,
    user: "user",
    item: "item",
    weight: "count",
    progress: false,
    skipMalformed: true,
  });
  assert.deepEqual(result.users, ["alice", 'bob "the builder"']);
  assert.deepEqual(result.items, ["Hello, World", "plain"]);
  assert.deepEqual(entries(result), { "alice Hello, World": 3, 'bob "the builder" plain': 3 });
  assert.equal(result.skipped, 1, "an empty item id is malformed");
});

test("readDelimited takes columns by index, counts lines without a weight and honours minRating", async () => {
  const dir = tempDir();
  const path = write(dir, "x.txt", "7;a;1.5\n8;b;4\n7;a;2\n\n8;c;0.5");
  const counts = await readDelimited(path, { delimiter: ";", user: 0, item: 1, progress: false });
  assert.deepEqual(entries(counts), { "7 a": 2, "8 b": 1, "8 c": 1 });
  const rated = await readDelimited(path, {
    delimiter: ";",
    user: 0,
    item: 1,
    weight: 2,
    minRating: 1,
    progress: false,
  });
  assert.deepEqual(entries(rated), { "7 a": 3.5, "8 b": 4 });
  assert.deepEqual(rated.items, ["a", "b", "c"], "a filtered rating keeps its ids");
  const multi = write(dir, "m.dat", "1::2::3\n1::4::5\n");
  assert.deepEqual(
    entries(
      await readDelimited(multi, { delimiter: "::", user: 0, item: 1, weight: 2, progress: false }),
    ),
    {
      "1 2": 3,
      "1 4": 5,
    },
  );
});

test("readDelimited treats an unterminated quote, text after a quote and a wrong field count as malformed", async () => {
  const dir = tempDir();
  const open = write(dir, "open.csv", 'u,i\na,"b\nc,d\n');
  await rejectsWith(
    readDelimited(open, { header: true, user: "u", item: "i", progress: false }),
    "open.csv:2: unterminated quoted field",
  );
  const after = write(dir, "after.csv", 'a,"b"x\n');
  await rejectsWith(
    readDelimited(after, { user: 0, item: 1, progress: false }),
    "after.csv:1: expected a delimiter after a closing quote",
  );
  const ragged = write(dir, "ragged.csv", "a,b,1\nc,d\n");
  await rejectsWith(
    readDelimited(ragged, { user: 0, item: 1, progress: false }),
    "ragged.csv:2: expected 3 fields but found 2",
  );
  const rating = write(dir, "rating.csv", "a,b,1\nc,d,\n");
  await rejectsWith(
    readDelimited(rating, { user: 0, item: 1, weight: 2, progress: false }),
    "rating.csv:2: expected field 3 to be a number but found ''",
  );
  const skipped = await readDelimited(open, {
    header: true,
    user: "u",
    item: "i",
    progress: false,
    skipMalformed: true,
  });
  assert.deepEqual(entries(skipped), { "c d": 1 });
  assert.equal(skipped.skipped, 1);
});

test("readDelimited checks its options", async () => {
  const path = write(tempDir(), "h.csv", "u,i\na,b\n");
  await rejectsWith(
    readDelimited(path, { header: true, user: "user", item: "i" }),
    "expected a header naming the user column 'user'",
  );
  await assert.rejects(readDelimited(path, { user: "u", item: "i" }), TypeError);
  await assert.rejects(readDelimited(path, { user: 0, item: 1, minRating: 2 }), TypeError);
  await assert.rejects(readDelimited(path, { user: 0, item: -1 }), RangeError);
  await assert.rejects(readDelimited(path, { user: 0, item: 1, minCount: -1 }), RangeError);
  await assert.rejects(readDelimited(path, { user: 0, item: 1, chunkSize: 0 }), RangeError);
});

test("forEachLine reads lines longer than a chunk, drops a byte-order mark and counts empty lines", async () => {
  const long = "é".repeat(5000);
  const path = write(tempDir(), "long.txt", `\ufeff${long}\n\n\r\nend`);
  const seen: [string, number][] = [];
  await forEachLine(path, { chunkSize: 16, progress: false }, (bytes, start, end, lineNo) => {
    seen.push([new TextDecoder().decode(bytes.subarray(start, end)), lineNo]);
    return undefined;
  });
  assert.deepEqual(seen, [[long, 1], ["end", 4]]);
});

// ---------------------------------------------------------------- archives

test("extractTar extracts the picked entries of a gzipped tar, GNU long names included", async () => {
  const dir = tempDir();
  const archive = write(
    dir,
    "a.tar.gz",
    gzipSync(
      tar({
        "lastfm-dataset-360K/plays.tsv": "u\tm\tA\t1\n",
        "lastfm-dataset-360K/README.txt": "hi",
      }),
    ),
  );
  const names: string[] = [];
  const written = await extractTar(archive, (name) => {
    names.push(name);
    return name.endsWith(".tsv") || name.endsWith(".txt")
      ? join(dir, name.split("/").pop()!)
      : undefined;
  });
  assert.deepEqual(names, [
    "lastfm-dataset-360K/" + "x".repeat(120) + ".txt",
    "lastfm-dataset-360K/plays.tsv",
    "lastfm-dataset-360K/README.txt",
  ]);
  assert.equal(written.length, 3);
  assert.equal(readFileSync(join(dir, "plays.tsv"), "utf8"), "u\tm\tA\t1\n");
  assert.equal(readFileSync(join(dir, "x".repeat(120) + ".txt"), "utf8"), "long name body");
  const plain = write(dir, "b.tar", tar({ "big.bin": new Uint8Array(70_000).fill(7) }));
  await extractTar(plain, (name) => (name === "big.bin" ? join(dir, "big.bin") : undefined));
  const big = readFileSync(join(dir, "big.bin"));
  assert.ok(big.length === 70_000 && big.every((b) => b === 7));
  const junk = write(dir, "junk.tar", new Uint8Array(1024).fill(65));
  await rejectsWith(extractTar(junk, () => undefined), "to be a tar archive");
  const cut = write(dir, "cut.tar", tar({ "big.bin": new Uint8Array(70_000) }).subarray(0, 4096));
  await rejectsWith(extractTar(cut, () => undefined), "is truncated");
});

test("extractZip inflates deflated entries, copies stored ones and checks CRC-32", async () => {
  const dir = tempDir();
  const body = "userId,movieId,rating,timestamp\n" + "1,2,3.5,4\n".repeat(5000);
  const archive = write(
    dir,
    "a.zip",
    zip({ "ml-x/ratings.csv": body, "ml-x/notes.stored": "plain", "ml-x/empty.csv": "" }),
  );
  const written = await extractZip(archive, (name) => join(dir, name.split("/").pop()!));
  assert.equal(written.length, 3);
  assert.equal(readFileSync(join(dir, "ratings.csv"), "utf8"), body);
  assert.equal(readFileSync(join(dir, "notes.stored"), "utf8"), "plain");
  assert.equal(readFileSync(join(dir, "empty.csv"), "utf8"), "");
  const bytes = zip({ "f.stored": "abcdef" });
  bytes[30 + "f.stored".length + 2] = 0x5a; // damage the stored data
  const damaged = write(dir, "damaged.zip", bytes);
  await rejectsWith(extractZip(damaged, () => join(dir, "f")), "is damaged");
  assert.equal(existsSync(join(dir, "f")), false);
  await rejectsWith(
    extractZip(write(dir, "no.zip", "not a zip"), () => undefined),
    "no end-of-directory record",
  );
});

// ---------------------------------------------------------------- fetch helpers (no network)

test("dataDir defaults to TACIT_DATA_DIR, then ~/.cache/tacit", () => {
  const saved = process.env.TACIT_DATA_DIR;
  try {
    process.env.TACIT_DATA_DIR = "/somewhere/data";
    assert.equal(dataDir(), "/somewhere/data");
    assert.equal(dataDir("/explicit"), "/explicit");
    delete process.env.TACIT_DATA_DIR;
    assert.ok(dataDir().endsWith(join(".cache", "tacit")));
  } finally {
    if (saved === undefined) delete process.env.TACIT_DATA_DIR;
    else process.env.TACIT_DATA_DIR = saved;
  }
});

test("fetchLastfm360k and fetchMovielens reuse a cached file without downloading", async () => {
  const cache = tempDir();
  mkdirSync(join(cache, "lastfm-360k"), { recursive: true });
  writeFileSync(lastfm360kPath(cache), LASTFM);
  const ml = movielensPath(cache, "100k");
  mkdirSync(join(ml, ".."), { recursive: true });
  writeFileSync(ml, "1\t2\t4\t0\n");
  writeFileSync(join(ml, "..", "u.item"), "2|Two (1999)|x\n");
  const { result, urls } = await withFetch(noNetwork, async () => {
    const lastfm = await fetchLastfm360k({ dataDir: cache, progress: false });
    const movies = await fetchMovielens("100k", { dataDir: cache, progress: false });
    return { lastfm, movies };
  });
  assert.deepEqual(urls, []);
  assert.deepEqual(result.lastfm.users, ["00000c28", "00001411"]);
  assert.deepEqual(entries(result.movies), { "1 2": 4 });
  assert.deepEqual(result.movies.itemNames, ["Two (1999)"]);
  const saved = process.env.TACIT_DATA_DIR;
  process.env.TACIT_DATA_DIR = cache;
  try {
    const viaEnv = await withFetch(noNetwork, () => fetchLastfm360k({ progress: false }));
    assert.equal(viaEnv.result.matrix.nnz, 5);
  } finally {
    if (saved === undefined) delete process.env.TACIT_DATA_DIR;
    else process.env.TACIT_DATA_DIR = saved;
  }
});

test("fetch helpers download once, extract the wanted files, delete the archive, then reuse", async () => {
  const cache = tempDir();
  const tgz = new Uint8Array(
    gzipSync(
      tar({
        "lastfm-dataset-360K/usersha1-artmbid-artname-plays.tsv": LASTFM,
        "lastfm-dataset-360K/README.txt": "x",
      }),
    ),
  );
  const first = await withFetch(
    () => new Response(tgz, { headers: { "content-length": String(tgz.length) } }),
    () =>
      fetchLastfm360k({ dataDir: cache, progress: false, url: "http://mirror.test/lastfm.tar.gz" }),
  );
  assert.deepEqual(first.urls, ["http://mirror.test/lastfm.tar.gz"]);
  assert.deepEqual(readdirSync(join(cache, "lastfm-360k")), ["usersha1-artmbid-artname-plays.tsv"]);
  assert.equal(first.result.matrix.nnz, 5);
  const again = await withFetch(
    noNetwork,
    () => fetchLastfm360k({ dataDir: cache, progress: false }),
  );
  assert.deepEqual(entries(again.result), entries(first.result));

  const archive = zip({
    "ml-latest-small/README.txt": "x",
    "ml-latest-small/ratings.csv": "userId,movieId,rating,timestamp\n1,10,4.5,0\n",
    "ml-latest-small/movies.csv": 'movieId,title,genres\n10,"GoldenEye, (1995)",Action\n',
  });
  const movies = await withFetch(
    () => new Response(archive),
    () => fetchMovielens("latest-small", { dataDir: cache, progress: false }),
  );
  assert.deepEqual(movies.urls, [
    "https://files.grouplens.org/datasets/movielens/ml-latest-small.zip",
  ]);
  assert.deepEqual(movies.result.itemNames, ["GoldenEye, (1995)"]);
  assert.deepEqual(readdirSync(join(cache, "movielens", "ml-latest-small")).sort(), [
    "movies.csv",
    "ratings.csv",
  ]);

  const failing = await withFetch(
    () => new Response("gone", { status: 404 }),
    () =>
      fetchMovielens("1m", { dataDir: cache, progress: false }).then(
        () => "resolved",
        (error: Error) => error.message,
      ),
  );
  assert.match(failing.result, /ml-1m\.zip to answer 200 OK but it answered 404/);
  await assert.rejects(fetchMovielens("3m" as "1m", { dataDir: cache }), RangeError);
});

test("Interner gives first-seen dense ids through many rehashes and maps them back", async () => {
  const { Interner } = await import("../lib/datasets/interner.ts");
  const interner = new Interner();
  const keys = Array.from({ length: 20_000 }, (_, k) => `key-${(k * 7919) % 20_000}-é`);
  for (const key of keys) interner.intern(key);
  for (const key of keys) interner.intern(key);
  assert.equal(interner.size, 20_000);
  assert.deepEqual(interner.names, keys);
  const bytes = new TextEncoder().encode(`xx${keys[123]}yy`);
  assert.equal(interner.internBytes(bytes, 2, bytes.length - 2), 123);
});
