/**
 * End to end, as a consumer without Zig gets tacit: scripts/release.ts builds the linux-x64
 * platform package, the `@tacit/native` meta package and the npm build of the TypeScript and
 * packs them; npm and Bun install the tarballs into scratch projects; a copy of the
 * TypeScript (mod.ts, cli.ts, lib/, deno.json: no zig/, no build.zig, no zig-out) with the table the
 * release wrote loads the installed library in child processes with no Zig on PATH and no
 * `TACIT_LIB`, under Deno (`npm:` specifier, `--node-modules-dir=manual`) and Bun.
 *
 * Stand-ins first check the packages alone (import the meta package, read `libraryPath`,
 * compare its sha256 with the table); then the loader finds the installed library by itself,
 * from the copy on disk and from the copy served over loopback HTTP, as a JSR consumer imports
 * it.
 *
 * Deno only (it drives npm, Bun and child Denos); linux-x64 only (the one target it builds).
 * About two minutes, mostly the build.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { cpSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { test } from "./harness.ts";
import { serveDirectory } from "./serve.ts";

const root = fileURLToPath(new URL("../", import.meta.url));
const isBun = typeof (globalThis as { Bun?: unknown }).Bun !== "undefined";
const deno = (globalThis as unknown as { Deno: typeof Deno }).Deno;

interface Result {
  code: number;
  output: string;
  stdout: string;
}

function run(command: string, args: string[], cwd: string, env?: Record<string, string>): Result {
  const output = new deno.Command(command, {
    args,
    cwd,
    stdout: "piped",
    stderr: "piped",
    ...(env === undefined ? {} : { env, clearEnv: true }),
  }).outputSync();
  const text = new TextDecoder();
  const stdout = text.decode(output.stdout);
  return { code: output.code, stdout, output: stdout + text.decode(output.stderr) };
}

/** The absolute path of a command on PATH, or undefined. */
function which(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? "").split(":")) {
    const path = join(dir, name);
    try {
      if (deno.statSync(path).isFile) return realpathSync(path);
    } catch {
      // not in this dir
    }
  }
  return undefined;
}

function skipReason(): string | undefined {
  if (isBun) return "driven by Deno (it runs npm, Bun and child Denos itself)";
  if (process.platform !== "linux" || process.arch !== "x64") {
    return `builds the linux-x64 package only, and this is ${process.platform}-${process.arch}`;
  }
  const zig = process.env.TACIT_ZIG ?? which("zig");
  if (zig === undefined) return "no Zig to build the library with (TACIT_ZIG or zig on PATH)";
  for (const tool of ["npm", "objdump", "readelf"]) {
    if (which(tool) === undefined) return `no ${tool} on PATH (scripts/release.ts needs it)`;
  }
  if ((process.env.BUN ?? which("bun")) === undefined) return "no bun on PATH (or BUN)";
  return undefined;
}

const skip = skipReason();
if (skip !== undefined) {
  test(`install: skipped: ${skip}`, () => {});
} else {
  installTests();
}

function sha256(path: string): string {
  return createHash("sha256").update(readFileSync(path)).digest("hex");
}

const fitScript = (modSpecifier: string) =>
  `import { AlternatingLeastSquares, CsrMatrix } from ${JSON.stringify(modSpecifier)};
// 4 users x 4 items: users 0 and 1 share items 0 and 1; user 1 also liked item 2.
const plays = CsrMatrix.fromCoo({
  rows: [0, 0, 1, 1, 1, 2, 3, 3],
  cols: [0, 1, 0, 1, 2, 3, 2, 3],
  shape: [4, 4],
});
const model = new AlternatingLeastSquares({ factors: 2, iterations: 5, randomState: 1 });
await model.fit(plays);
const top = model.recommend(0, plays, { n: 1 });
console.log("recommended=" + top.ids[0]);
`;

function installTests(): void {
  const version = (JSON.parse(readFileSync(join(root, "deno.json"), "utf8")) as { version: string })
    .version;
  const tmp = mkdtempSync(join(tmpdir(), "tacit-install-"));
  const copy = join(tmp, "copy");
  const out = join(tmp, "out");
  const npmProject = join(tmp, "npm-project");
  const bunProject = join(tmp, "bun-project");
  const bin = join(tmp, "bin");
  const bun = realpathSync(process.env.BUN ?? which("bun")!);
  let packed: string[] = [];
  let tableHash = "";

  // The children see deno and bun only: no zig, no npm, no TACIT_* variables.
  const childEnv = (): Record<string, string> => {
    const env: Record<string, string> = { PATH: bin, NO_COLOR: "1" };
    for (const name of ["HOME", "DENO_DIR", "TMPDIR"]) {
      const value = process.env[name];
      if (value !== undefined) env[name] = value;
    }
    return env;
  };
  const denoFlags = ["--node-modules-dir=manual", "--allow-ffi", "--allow-read", "--allow-env"];
  const tarball = (prefix: string) => {
    const found = packed.find((p) => p.split("/").at(-1) === `${prefix}-${version}.tgz`);
    assert.ok(found !== undefined, `Expected a packed ${prefix}-${version}.tgz in ${packed}`);
    return found;
  };
  const installedLibrary = (project: string) =>
    join(project, "node_modules", "@tacit", "native-linux-x64", "libtacit.so");
  test("install: release.ts builds, checks and packs the linux-x64 package into a copy without Zig", () => {
    for (const entry of ["mod.ts", "cli.ts", "deno.json", "lib"]) {
      cpSync(join(root, entry), join(copy, entry), { recursive: true });
    }
    deno.mkdirSync(bin);
    deno.symlinkSync(deno.execPath(), join(bin, "deno"));
    deno.symlinkSync(bun, join(bin, "bun"));
    const result = run(deno.execPath(), [
      "run",
      "-A",
      join(root, "scripts", "release.ts"),
      "--targets",
      "linux-x64",
      "--out",
      out,
      "--source",
      copy,
      "--table",
      join(copy, "lib", "native", "prebuilt.ts"),
      "--npm",
      "--pack",
    ], root);
    assert.equal(result.code, 0, result.output);
    const report = JSON.parse(result.stdout) as {
      built: { packageName: string; sha256: string; path: string }[];
      packed: string[];
    };
    packed = report.packed;
    assert.equal(report.built.length, 1);
    const built = report.built[0]!;
    assert.equal(built.packageName, "@tacit/native-linux-x64");
    assert.equal(sha256(built.path), built.sha256);
    tableHash = built.sha256;
    const table = readFileSync(join(copy, "lib", "native", "prebuilt.ts"), "utf8");
    assert.match(table, new RegExp(`"@tacit/native-linux-x64": "${built.sha256}"`));
    assert.match(table, new RegExp(`PREBUILT_VERSION: string = "${version}"`));
    assert.equal(packed.length, 3, `Expected 3 tarballs but found ${packed}`);
    const meta = JSON.parse(readFileSync(join(out, "npm", "native", "package.json"), "utf8"));
    assert.deepEqual(meta.optionalDependencies, { "@tacit/native-linux-x64": version });
  });

  test("install: npm installs the two native tarballs (offline) and Bun all three", () => {
    // npm takes the meta package's optional dependency from the tarball given beside it; Bun
    // looks it (and @tacit/tacit's dependency) up in the registry unless overridden.
    const overrides = {
      "@tacit/native": `file:${tarball("tacit-native")}`,
      "@tacit/native-linux-x64": `file:${tarball("tacit-native-linux-x64")}`,
    };
    for (const [project, extra] of [[npmProject, {}], [bunProject, { overrides }]] as const) {
      deno.mkdirSync(project);
      writeFileSync(
        join(project, "package.json"),
        JSON.stringify({ name: "scratch", private: true, type: "module", ...extra }),
      );
    }
    const npm = run("npm", [
      "install",
      "--offline",
      "--no-audit",
      "--no-fund",
      tarball("tacit-native-linux-x64"),
      tarball("tacit-native"),
    ], npmProject);
    assert.equal(npm.code, 0, npm.output);
    const bunAdd = run(
      bun,
      [
        "add",
        tarball("tacit-native-linux-x64"),
        tarball("tacit-native"),
        tarball("tacit-tacit"),
      ],
      bunProject,
      childEnv(),
    );
    assert.equal(bunAdd.code, 0, bunAdd.output);
    for (const project of [npmProject, bunProject]) {
      assert.equal(sha256(installedLibrary(project)), tableHash);
    }
  });

  test("install: Deno resolves npm:@tacit/native from the scratch project's node_modules (stand-in for the loader)", () => {
    writeFileSync(
      join(npmProject, "standin.ts"),
      `const native = await import(${JSON.stringify(`npm:@tacit/native@${version}`)});\n` +
        `console.log(JSON.stringify({ packageName: native.packageName, libraryPath: native.libraryPath }));\n`,
    );
    // No permission flag: importing the packages reads nothing through Deno's permissions.
    const result = run(
      "deno",
      ["run", "--node-modules-dir=manual", "standin.ts"],
      npmProject,
      childEnv(),
    );
    assert.equal(result.code, 0, result.output);
    const found = JSON.parse(result.stdout.trim().split("\n").at(-1)!);
    assert.equal(found.packageName, "@tacit/native-linux-x64");
    assert.equal(realpathSync(found.libraryPath), realpathSync(installedLibrary(npmProject)));
    assert.equal(sha256(found.libraryPath), tableHash);
  });

  test("install: Bun resolves @tacit/native to the library by its bun.js file import (stand-in for the loader)", () => {
    writeFileSync(
      join(bunProject, "standin.ts"),
      `import { libraryPath, packageName } from "@tacit/native";\n` +
        `console.log(JSON.stringify({ packageName, libraryPath }));\n`,
    );
    const result = run(bun, ["run", "standin.ts"], bunProject, childEnv());
    assert.equal(result.code, 0, result.output);
    const found = JSON.parse(result.stdout.trim().split("\n").at(-1)!);
    assert.equal(found.packageName, "@tacit/native-linux-x64");
    assert.equal(realpathSync(found.libraryPath), realpathSync(installedLibrary(bunProject)));
  });

  test("install: the installed library fits and recommends through TACIT_LIB, under Deno (copy) and Bun (npm build)", () => {
    writeFileSync(join(npmProject, "fit.ts"), fitScript(join(copy, "mod.ts")));
    const env = { ...childEnv(), TACIT_LIB: installedLibrary(npmProject) };
    const viaDeno = run("deno", ["run", ...denoFlags, "fit.ts"], npmProject, env);
    assert.equal(viaDeno.code, 0, viaDeno.output);
    assert.match(viaDeno.stdout, /recommended=2/);
    writeFileSync(join(bunProject, "fit.ts"), fitScript("@tacit/tacit"));
    const viaBun = run(bun, ["run", "fit.ts"], bunProject, {
      ...childEnv(),
      TACIT_LIB: installedLibrary(bunProject),
    });
    assert.equal(viaBun.code, 0, viaBun.output);
    assert.match(viaBun.stdout, /recommended=2/);
  });

  test(
    "install: Deno loads the prebuilt library from the copy (npm: specifier, no Zig, no TACIT_LIB)",
    () => {
      const result = run("deno", ["run", ...denoFlags, "fit.ts"], npmProject, childEnv());
      assert.equal(result.code, 0, result.output);
      assert.match(result.stdout, /recommended=2/);
      // A consumer of the prebuilt library needs only --allow-ffi and a scoped --allow-read.
      const scoped = run(
        "deno",
        [
          "run",
          "--node-modules-dir=manual",
          "--allow-ffi",
          `--allow-read=${join(npmProject, "node_modules")}`,
          "fit.ts",
        ],
        npmProject,
        childEnv(),
      );
      assert.equal(scoped.code, 0, scoped.output);
      assert.match(scoped.stdout, /recommended=2/);
    },
  );

  test(
    "install: Bun loads the prebuilt library from the npm build (no Zig, no TACIT_LIB)",
    () => {
      const result = run(bun, ["run", "fit.ts"], bunProject, childEnv());
      assert.equal(result.code, 0, result.output);
      assert.match(result.stdout, /recommended=2/);
    },
  );

  test(
    "install: the npm build's bin runs `tacit info` under Bun from node_modules/.bin (no Zig, no TACIT_LIB)",
    () => {
      const result = run(
        bun,
        [join(bunProject, "node_modules", ".bin", "tacit"), "info"],
        bunProject,
        childEnv(),
      );
      assert.equal(result.code, 0, result.output);
      assert.match(result.stdout, /"command":"info".*"threads":\d+/);
    },
  );

  test("install: Deno imports the copy over loopback HTTP and loads the installed prebuilt library", async () => {
    const server = await serveDirectory(copy);
    try {
      writeFileSync(join(npmProject, "remote.ts"), fitScript(`${server.url}mod.ts`));
      const child = new deno.Command("deno", {
        args: [
          "run",
          "--node-modules-dir=manual",
          `--allow-import=${server.host}`,
          "--allow-ffi",
          `--allow-read=${join(npmProject, "node_modules")}`,
          "remote.ts",
        ],
        cwd: npmProject,
        env: childEnv(),
        clearEnv: true,
        stdout: "piped",
        stderr: "piped",
      });
      // Asynchronous, so this process keeps serving while the child imports.
      const output = await child.output();
      const text = new TextDecoder();
      const stdout = text.decode(output.stdout);
      assert.equal(output.code, 0, stdout + text.decode(output.stderr));
      assert.match(stdout, /recommended=2/);
    } finally {
      await server.close();
    }
  });

  test("install: a prebuilt library with one byte flipped is refused by its sha256", () => {
    for (const project of [npmProject, bunProject]) {
      const path = installedLibrary(project);
      const bytes = readFileSync(path);
      const at = bytes.length >> 1;
      bytes[at] = bytes[at]! ^ 0x01;
      rmSync(path); // the file npm/Bun installed may be a hard link into their caches
      writeFileSync(path, bytes);
    }
    const viaDeno = run("deno", ["run", ...denoFlags, "fit.ts"], npmProject, childEnv());
    assert.notEqual(viaDeno.code, 0, viaDeno.output);
    assert.match(viaDeno.output, /sha256/);
    const viaBun = run(bun, ["run", "fit.ts"], bunProject, childEnv());
    assert.notEqual(viaBun.code, 0, viaBun.output);
    assert.match(viaBun.output, /sha256/);
  });

  test("install: the scratch directories are removed", () => {
    rmSync(tmp, { recursive: true, force: true });
  });
}
