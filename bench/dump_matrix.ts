/**
 * Writes the generated lastfm-360K-sized matrix (bm25-weighted, as bench/als.ts
 * fits it) as raw little-endian arrays for the Python comparison:
 * bench/out/matrix.{indptr.i32,indices.i32,data.f32,json}.
 *
 *   deno run -A bench/dump_matrix.ts [--users ... --items ... --nnz ...]
 */
import { bm25Weight } from "../mod.ts";
import { lastfmSized, numberArgs, writeCsr } from "./common.ts";

const args = numberArgs({ users: 358_000, items: 292_000, nnz: 17_500_000 });
const m = bm25Weight(lastfmSized(args));
writeCsr("matrix", m);
console.log(`wrote bench/out/matrix.* (${m.nRows} × ${m.nCols}, ${m.nnz} nonzeros)`);
