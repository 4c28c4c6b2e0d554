/**
 * Writes the generated lastfm-360K-sized matrix (bm25-weighted, as bench/als.ts
 * fits it) as raw little-endian arrays for the Python comparison:
 * bench/out/matrix.{indptr.i32,indices.i32,data.f32,json}.
 *
 *   deno run -A bench/dump_matrix.ts [--users ... --items ... --nnz ...]
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { bm25Weight } from "../mod.ts";
import { lastfmSized, numberArgs } from "./common.ts";

const args = numberArgs({ users: 358_000, items: 292_000, nnz: 17_500_000 });
const m = bm25Weight(lastfmSized(args));
const dir = new URL("./out/", import.meta.url);
mkdirSync(dir, { recursive: true });
const bytes = (a: Int32Array | Float32Array) =>
  new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
writeFileSync(new URL("matrix.indptr.i32", dir), bytes(m.indptr));
writeFileSync(new URL("matrix.indices.i32", dir), bytes(m.indices));
writeFileSync(new URL("matrix.data.f32", dir), bytes(m.data));
writeFileSync(new URL("matrix.json", dir), JSON.stringify({ shape: m.shape, nnz: m.nnz }));
console.log(`wrote bench/out/matrix.* (${m.nRows} × ${m.nCols}, ${m.nnz} nonzeros)`);
