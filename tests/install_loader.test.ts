/**
 * How the loader behaves where users are (lib/native/locate.ts, build.ts):
 * imported over HTTP, under each combination of Deno permissions, with a
 * wrong Zig, with checksums that do not match, and with two first runs at
 * once. Each case runs a short child process on the repository or on a copy
 * of its TypeScript with stand-in Zig sources and a fake `zig`.
 *
 * Importing over HTTP and Deno's permissions exist only under Deno: those
 * tests are skipped under Bun.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import {
  chmodSync,
  copyFileSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { checkZigVersion, libraryFile, ZIG_VERSION } from "../lib/native/build.ts";
import { checkPrebuilt, sha256File } from "../lib/native/checksum.ts";
import { test } from "./harness.ts";
import { serveDirectory } from "./serve.ts";

declare const Bun: unknown;
const isBun = typeof Bun !== "undefined";
/** Deno's permissions and HTTP imports have no Bun counterpart: those tests run under Deno only. */
const denoTest = isBun ? (_name: string, _fn: () => Promise<void> | void) => {} : test;

const root = fileURLToPath(new URL("../", import.meta.url));
const builtLibrary = join(root, "zig-out", "lib", libraryFile);

/** The parent's environment without the loader's variables (scripts/toolchain.sh sets TACIT_ZIG). */
function cleanEnv(extra: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!key.startsWith("TACIT_") && value !== undefined) env[key] = value;
  }
  return { ...env, TACIT_PROGRESS: "0", ...extra };
}

/**
 * Runs a snippet that imports `mod` in a child of the current runtime (Deno
 * with `denoFlags`), asynchronously so that this process can serve it.
 */
function runChild(
  code: string,
  options: { mod: string; env?: Record<string, string>; denoFlags?: string[] },
): Promise<{ status: number | null; output: string }> {
  const file = join(mkdtempSync(join(tmpdir(), "tacit-install-")), "probe.ts");
  writeFileSync(file, `import * as tacit from ${JSON.stringify(options.mod)};\n${code}\n`);
  const args = isBun ? [file] : ["run", ...(options.denoFlags ?? ["-A"]), file];
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, args, {
      env: cleanEnv(options.env ?? {}),
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout.on("data", (chunk) => output += chunk);
    child.stderr.on("data", (chunk) => output += chunk);
    child.on("error", fail);
    child.on("close", (status) => {
      rmSync(file, { force: true });
      done({ status, output });
    });
  });
}

/**
 * A copy of the package's TypeScript with stand-in Zig sources: a source
 * checkout whose library is missing (or, with `library`, a real one older
 * than its sources), and a fake `zig` that prints `version` and runs `build`.
 */
function sourceCopy(
  options: { library?: boolean; zigVersion?: string; build?: string } = {},
) {
  const copy = mkdtempSync(join(tmpdir(), "tacit-checkout-"));
  cpSync(join(root, "lib"), join(copy, "lib"), { recursive: true });
  copyFileSync(join(root, "mod.ts"), join(copy, "mod.ts"));
  writeFileSync(join(copy, "build.zig"), "// stand-in\n");
  mkdirSync(join(copy, "zig"));
  writeFileSync(join(copy, "zig", "root.zig"), "// stand-in\n");
  const library = join(copy, "zig-out", "lib", libraryFile);
  if (options.library === true) {
    mkdirSync(join(copy, "zig-out", "lib"), { recursive: true });
    copyFileSync(builtLibrary, library);
    const past = new Date(Date.now() - 3_600_000);
    utimesSync(library, past, past);
  }
  const log = join(copy, "zig.log");
  const zig = join(copy, "fake-zig.sh");
  writeFileSync(
    zig,
    [
      "#!/bin/sh",
      `if [ "$1" = version ]; then echo ${options.zigVersion ?? ZIG_VERSION}; exit 0; fi`,
      `echo "$@" >> "${log}"`,
      options.build ??
        `mkdir -p "${join(copy, "zig-out", "lib")}" && cp "${builtLibrary}" "${library}"`,
      "",
    ].join("\n"),
  );
  chmodSync(zig, 0o755);
  const mod = new URL(`file://${join(copy, "mod.ts")}`).href;
  const builds = () => existsSync(log) ? readFileSync(log, "utf8").trim().split("\n").length : 0;
  return { copy, library, zig, log, mod, builds, remove: () => rmSync(copy, { recursive: true }) };
}

/** Serves the repository's files read-only on 127.0.0.1. */
const serveRepository = () => serveDirectory(root);

const fitTinyBpr = `
const plays = tacit.CsrMatrix.fromDense([[1, 0, 1, 0], [0, 1, 0, 1], [1, 1, 0, 0]]);
const model = await new tacit.BayesianPersonalizedRanking({ factors: 4, randomState: 1 })
  .fit(plays, { progress: false });
console.log("threads=" + tacit.getNumThreads() + " items=" + model.recommend(0, plays, { n: 2 }).ids.length);`;

denoTest("mod.ts imported over HTTP loads TACIT_LIB and fits a model", async () => {
  const server = await serveRepository();
  try {
    const host = new URL(server.url).host;
    const { status, output } = await runChild(fitTinyBpr, {
      mod: `${server.url}mod.ts`,
      env: { TACIT_LIB: builtLibrary },
      denoFlags: [
        `--allow-import=${host}`,
        "--allow-env",
        `--allow-read=${builtLibrary}`,
        "--allow-ffi",
      ],
    });
    assert.equal(status, 0, output);
    assert.match(output, /threads=\d+ items=2/);
  } finally {
    await server.close();
  }
});

denoTest(
  "mod.ts imported over HTTP without a library fails only at the first native call, listing what was tried",
  async () => {
    const server = await serveRepository();
    try {
      const host = new URL(server.url).host;
      const { status, output } = await runChild(
        `console.log("nnz=" + tacit.CsrMatrix.fromDense([[1, 0], [0, 2]]).nnz);
try {
  tacit.getNumThreads();
} catch (error) {
  console.log("refused: " + error.message);
}`,
        {
          mod: `${server.url}mod.ts`,
          denoFlags: [
            "--quiet",
            `--allow-import=${host}`,
            "--allow-env",
            "--allow-read",
            "--allow-ffi",
          ],
        },
      );
      assert.equal(status, 0, output);
      console.log(output);
      assert.match(output, /nnz=2/);
      assert.match(output, /refused: tacit: no native library to load\. Tried:/);
      assert.match(output, /TACIT_LIB: not set/);
      assert.match(output, new RegExp(`${server.url.replaceAll(".", "\\.")} is not a file: URL`));
      assert.match(
        output,
        /import\("npm:@tacit\/native@\d+\.\d+\.\d+"\) failed|@tacit\/native-\w+-\w+/,
      );
      assert.match(output, /set TACIT_LIB=\/abs\/path\/libtacit/);
      assert.match(output, /npm install @tacit\/native/);
      assert.match(output, /zig build -Doptimize=ReleaseFast/);
    } finally {
      await server.close();
    }
  },
);

const probe = "console.log('threads=' + tacit.getNumThreads());";

denoTest(
  "without --allow-run, a checkout that needs a build names the flag (not a missing Zig)",
  async () => {
    const checkout = sourceCopy();
    const { status, output } = await runChild(probe, {
      mod: checkout.mod,
      env: { TACIT_ZIG: checkout.zig },
      denoFlags: ["--allow-read", "--allow-env", "--allow-ffi"],
    });
    assert.notEqual(status, 0);
    assert.match(output, /must be built with Zig, but Deno was not given --allow-run/);
    assert.doesNotMatch(output, /no Zig compiler was found/);
    assert.equal(checkout.builds(), 0);
    checkout.remove();
  },
);

denoTest(
  "with --allow-run but not --allow-write, nothing is built and the message names the write flag",
  async () => {
    const checkout = sourceCopy();
    const { status, output } = await runChild(probe, {
      mod: checkout.mod,
      env: { TACIT_ZIG: checkout.zig },
      denoFlags: ["--allow-read", "--allow-env", "--allow-run", "--allow-ffi"],
    });
    assert.notEqual(status, 0);
    assert.match(
      output,
      new RegExp(`not given --allow-write=${checkout.copy}/zig-out,${checkout.copy}/\\.zig-cache`),
    );
    assert.equal(checkout.builds(), 0);
    assert.equal(existsSync(join(checkout.copy, "zig-out")), false);
    checkout.remove();
  },
);

denoTest(
  "without --allow-env, TACIT_LIB is treated as unset and the message says env access was not granted",
  async () => {
    const checkout = sourceCopy();
    const { status, output } = await runChild(probe, {
      mod: checkout.mod,
      env: { TACIT_LIB: builtLibrary, TACIT_ZIG: checkout.zig },
      denoFlags: ["--allow-read", "--allow-ffi"],
    });
    assert.notEqual(status, 0);
    assert.match(output, /no --allow-env=TACIT_LIB: TACIT_LIB was treated as unset/);
    assert.match(output, /not given --allow-run/);
    checkout.remove();
  },
);

test("a Zig of another version is refused before building, naming the pinned version", async () => {
  const checkout = sourceCopy({ zigVersion: "0.16.0" });
  const { status, output } = await runChild(probe, {
    mod: checkout.mod,
    env: { TACIT_ZIG: checkout.zig },
  });
  assert.notEqual(status, 0);
  assert.match(
    output,
    new RegExp(
      `tacit needs Zig ${
        ZIG_VERSION.replaceAll(".", "\\.")
      } to build its native library but ${checkout.zig} is 0\\.16\\.0`,
    ),
  );
  assert.equal(checkout.builds(), 0);
  checkout.remove();
  assert.throws(() => checkZigVersion("zig", ""), /but zig is \(no version printed\)/);
});

test("the pinned Zig version is the one scripts/toolchain.sh installs and build.zig.zon requires", () => {
  assert.match(
    readFileSync(join(root, "scripts", "toolchain.sh"), "utf8"),
    new RegExp(`ZIG_VERSION=${ZIG_VERSION}\n`),
  );
  assert.match(
    readFileSync(join(root, "build.zig.zon"), "utf8"),
    new RegExp(`minimum_zig_version = "${ZIG_VERSION}"`),
  );
});

test("TACIT_LIB is refused when TACIT_LIB_SHA256 does not match, and opened when it does", async () => {
  const wrong = "0".repeat(64);
  const refused = await runChild(probe, {
    mod: new URL("../mod.ts", import.meta.url).href,
    env: { TACIT_LIB: builtLibrary, TACIT_LIB_SHA256: wrong },
  });
  assert.notEqual(refused.status, 0);
  assert.match(
    refused.output,
    new RegExp(
      `expected TACIT_LIB=${builtLibrary} to have sha256 ${wrong} \\(TACIT_LIB_SHA256\\) but found ${
        sha256File(builtLibrary)
      }`,
    ),
  );
  const accepted = await runChild(probe, {
    mod: new URL("../mod.ts", import.meta.url).href,
    env: { TACIT_LIB: builtLibrary, TACIT_LIB_SHA256: sha256File(builtLibrary).toUpperCase() },
  });
  assert.equal(accepted.status, 0, accepted.output);
});

test("a prebuilt library is refused when its sha256 differs from the table or its package has no entry", () => {
  const dir = mkdtempSync(join(tmpdir(), "tacit-prebuilt-"));
  const path = join(dir, libraryFile);
  const bytes = new Uint8Array(4096).map((_, i) => (i * 31) & 255);
  writeFileSync(path, bytes);
  const table = { "@tacit/native-linux-x64": sha256File(path) };
  checkPrebuilt("@tacit/native-linux-x64", path, table);
  bytes[1000] = bytes[1000]! ^ 1; // one byte flipped
  writeFileSync(path, bytes);
  assert.throws(
    () => checkPrebuilt("@tacit/native-linux-x64", path, table),
    new RegExp(
      `expected the prebuilt library ${path} of @tacit/native-linux-x64 to have sha256 ${
        table["@tacit/native-linux-x64"]
      } but found ${sha256File(path)}`,
    ),
  );
  assert.throws(
    () => checkPrebuilt("@tacit/native-darwin-arm64", path, table),
    /expected a sha256 for @tacit\/native-darwin-arm64 .* but found none/,
  );
  rmSync(dir, { recursive: true });
});

test("two first runs at once build once: the second waits for the lock and loads the result", async () => {
  const checkout = sourceCopy();
  const zig = readFileSync(checkout.zig, "utf8").replace(/^(mkdir.*)$/m, "sleep 2\n$1");
  writeFileSync(checkout.zig, zig);
  const runs = await Promise.all(
    [0, 1].map(() => runChild(probe, { mod: checkout.mod, env: { TACIT_ZIG: checkout.zig } })),
  );
  for (const run of runs) assert.equal(run.status, 0, run.output);
  assert.equal(checkout.builds(), 1, readFileSync(checkout.log, "utf8"));
  assert.match(runs.map((run) => run.output).join("\n"), /tacit: built .* in \d+ s/);
  assert.match(runs.map((run) => run.output).join("\n"), /waiting for another process/);
  assert.equal(existsSync(join(checkout.copy, "zig-out", ".tacit-build.lock")), false);
  checkout.remove();
});

test("a build lock left by a process that is gone is taken over", async () => {
  const checkout = sourceCopy({ library: true });
  mkdirSync(join(checkout.copy, "zig-out"), { recursive: true });
  // A pid that exited: this test runner's own short child.
  const gone = await new Promise<number>((done) => {
    const child = spawn("true");
    child.on("close", () => done(child.pid!));
  });
  writeFileSync(join(checkout.copy, "zig-out", ".tacit-build.lock"), `${gone} ${Date.now()}\n`);
  const { status, output } = await runChild(probe, {
    mod: checkout.mod,
    env: { TACIT_ZIG: checkout.zig },
  });
  assert.equal(status, 0, output);
  assert.match(output, new RegExp(`taking over the build lock .* \\(process ${gone} is gone\\)`));
  assert.equal(checkout.builds(), 1);
  checkout.remove();
});
