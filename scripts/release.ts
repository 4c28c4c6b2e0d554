/**
 * Builds the prebuilt native libraries and the npm packages that ship them.
 *
 *   deno run -A scripts/release.ts [--targets linux-x64,linux-arm64,darwin-x64,darwin-arm64]
 *     [--out dist] [--table lib/native/prebuilt.ts] [--source .] [--npm] [--pack]
 *
 * For each target it cross-compiles the library from this machine with a portable CPU
 * (x86_64_v3 or the arm64 baseline, glibc 2.28 on Linux), stripped, into
 * `<out>/build/<target>/`, and checks the file: its format and machine (ELF or Mach-O
 * header), no AVX-512 instruction (an x86_64_v3 library must run on any AVX2 machine) and,
 * on Linux, no glibc symbol version above 2.28. Then it writes into `<out>/npm/`:
 *
 *   native-<os>-<arch>/  `@tacit/native-<os>-<arch>`: the library, `index.js` (its path from
 *                        `import.meta.url`) and `bun.js` (an import `{ type: "file" }`, which
 *                        `bun build --compile` embeds), each with its `.d.ts`;
 *   native/              `@tacit/native`: `optionalDependencies` on the packages built here,
 *                        and `index.js` exporting `packageName` and `libraryPath` for the
 *                        running platform;
 *   tacit/               with `--npm`: `@tacit/tacit`, the TypeScript of `--source` compiled to
 *                        JS + .d.ts (scripts/build_npm.ts);
 *
 * and the table of sha256 the loader checks each library against (`--table`, default
 * `<source>/lib/native/prebuilt.ts`). `--pack` runs `npm pack` in each package into `<out>/`.
 * Every package has the version in `<source>/deno.json`.
 *
 * @module
 */
import { buildNpm } from "./build_npm.ts";

interface Target {
  /** Zig's `-Dtarget`. */
  zigTarget: string;
  /** Zig's `-Dcpu`. */
  zigCpu: string;
  /** Node's `process.platform` and `process.arch`. */
  os: "linux" | "darwin";
  arch: "x64" | "arm64";
  file: "libtacit.so" | "libtacit.dylib";
}

/** The ELF `e_machine` and Mach-O `cputype` each arch must have. */
const elfMachine = { x64: 0x3e, arm64: 0xb7 } as const;
const machCpuType = { x64: 0x0100_0007, arm64: 0x0100_000c } as const;
const glibcVersionMax = [2, 28] as const;

const targets: Readonly<Record<string, Target>> = {
  "linux-x64": {
    zigTarget: "x86_64-linux-gnu.2.28",
    zigCpu: "x86_64_v3",
    os: "linux",
    arch: "x64",
    file: "libtacit.so",
  },
  "linux-arm64": {
    zigTarget: "aarch64-linux-gnu.2.28",
    zigCpu: "baseline",
    os: "linux",
    arch: "arm64",
    file: "libtacit.so",
  },
  "darwin-x64": {
    zigTarget: "x86_64-macos",
    zigCpu: "x86_64_v3",
    os: "darwin",
    arch: "x64",
    file: "libtacit.dylib",
  },
  "darwin-arm64": {
    zigTarget: "aarch64-macos",
    zigCpu: "apple_m1",
    os: "darwin",
    arch: "arm64",
    file: "libtacit.dylib",
  },
};

const repoRoot = new URL("../", import.meta.url).pathname;

/** What one target's build produced, as the report prints it. */
export interface BuiltLibrary {
  target: string;
  packageName: string;
  path: string;
  bytes: number;
  sha256: string;
  buildSeconds: number;
  checks: string[];
}

interface Options {
  targets: string[];
  out: string;
  source: string;
  table: string;
  npm: boolean;
  pack: boolean;
}

function parseArgs(args: string[]): Options {
  const options: Options = {
    targets: Object.keys(targets),
    out: "dist",
    source: repoRoot,
    table: "",
    npm: false,
    pack: false,
  };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    const value = (): string => {
      const next = args[++i];
      if (next === undefined) throw new Error(`Expected a value after ${arg} but found none`);
      return next;
    };
    if (arg === "--targets") options.targets = value().split(",").filter((t) => t !== "");
    else if (arg === "--out") options.out = value();
    else if (arg === "--source") options.source = value();
    else if (arg === "--table") options.table = value();
    else if (arg === "--npm") options.npm = true;
    else if (arg === "--pack") options.pack = true;
    else {throw new Error(
        `Expected --targets, --out, --source, --table, --npm or --pack but found ${arg}`,
      );}
  }
  for (const target of options.targets) {
    if (!(target in targets)) {
      throw new Error(
        `Expected --targets to name ${Object.keys(targets).join(", ")} but found ${target}`,
      );
    }
  }
  if (options.targets.length === 0) throw new Error("Expected at least one target in --targets");
  options.out = absolute(options.out);
  options.source = absolute(options.source);
  options.table = options.table === ""
    ? `${options.source}/lib/native/prebuilt.ts`
    : absolute(options.table);
  return options;
}

function absolute(path: string): string {
  const full = path.startsWith("/") ? path : `${Deno.cwd()}/${path}`;
  return full.replace(/\/+$/, "");
}

async function run(command: string, args: string[], cwd: string): Promise<string> {
  const output = await new Deno.Command(command, { args, cwd, stdout: "piped", stderr: "piped" })
    .output();
  const text = new TextDecoder();
  if (!output.success) {
    throw new Error(
      `${command} ${args.join(" ")} failed (exit ${output.code}):\n${text.decode(output.stderr)}`,
    );
  }
  return text.decode(output.stdout);
}

async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes as BufferSource));
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Builds one target, stripped, with a prefix of its own, and checks what came out. */
async function buildTarget(name: string, target: Target, out: string): Promise<BuiltLibrary> {
  const zig = Deno.env.get("TACIT_ZIG") || "zig";
  const prefix = `${out}/build/${name}`;
  const started = performance.now();
  await run(zig, [
    "build",
    "-Doptimize=ReleaseFast",
    `-Dtarget=${target.zigTarget}`,
    `-Dcpu=${target.zigCpu}`,
    "-Dstrip=true",
    "--prefix",
    prefix,
  ], repoRoot);
  const buildSeconds = (performance.now() - started) / 1000;
  const path = `${prefix}/lib/${target.file}`;
  const bytes = await Deno.readFile(path);
  const checks = [checkFormat(path, bytes, target)];
  if (target.arch === "x64") checks.push(await checkNoAvx512(path, bytes, target));
  if (target.os === "linux") checks.push(await checkGlibcVersions(path));
  return {
    target: name,
    packageName: `@tacit/native-${name}`,
    path,
    bytes: bytes.length,
    sha256: await sha256Hex(bytes),
    buildSeconds,
    checks,
  };
}

/** The file must be a 64-bit little-endian ELF or Mach-O for the target's machine. */
function checkFormat(path: string, bytes: Uint8Array, target: Target): string {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (target.os === "linux") {
    const isElf64Le = view.getUint32(0, false) === 0x7f454c46 && bytes[4] === 2 && bytes[5] === 1;
    const type = view.getUint16(16, true);
    const machine = view.getUint16(18, true);
    if (!isElf64Le || type !== 3 || machine !== elfMachine[target.arch]) {
      throw new Error(
        `${path}: expected a 64-bit little-endian ELF shared object for machine ` +
          `0x${elfMachine[target.arch].toString(16)} but found magic ` +
          `0x${view.getUint32(0, false).toString(16)}, type ${type}, machine 0x${
            machine.toString(16)
          }`,
      );
    }
    return `ELF64 shared object, e_machine 0x${machine.toString(16)}`;
  }
  const magic = view.getUint32(0, true);
  const cpuType = view.getUint32(4, true);
  const fileType = view.getUint32(12, true);
  if (magic !== 0xfeedfacf || cpuType !== machCpuType[target.arch] || fileType !== 6) {
    throw new Error(
      `${path}: expected a 64-bit Mach-O dylib (magic 0xfeedfacf, filetype 6) for cputype ` +
        `0x${machCpuType[target.arch].toString(16)} but found magic 0x${magic.toString(16)}, ` +
        `filetype ${fileType}, cputype 0x${cpuType.toString(16)}`,
    );
  }
  return `Mach-O 64 dylib, cputype 0x${cpuType.toString(16)}`;
}

/**
 * Disassembles the code with objdump and counts zmm register uses (AVX-512). A Mach-O
 * file's `__TEXT,__text` section is cut out and disassembled as raw x86-64, since the
 * binutils here read no Mach-O.
 */
async function checkNoAvx512(path: string, bytes: Uint8Array, target: Target): Promise<string> {
  let listing: string;
  if (target.os === "linux") {
    listing = await run("objdump", ["-d", "--no-show-raw-insn", path], repoRoot);
  } else {
    const text = machTextSection(path, bytes);
    const raw = await Deno.makeTempFile({ suffix: ".text.bin" });
    try {
      await Deno.writeFile(raw, text);
      listing = await run(
        "objdump",
        ["-D", "-b", "binary", "-m", "i386:x86-64", "--no-show-raw-insn", raw],
        repoRoot,
      );
    } finally {
      await Deno.remove(raw);
    }
  }
  const zmm = (listing.match(/%zmm\d+/g) ?? []).length;
  const ymm = (listing.match(/%ymm\d+/g) ?? []).length;
  if (zmm !== 0) {
    throw new Error(`${path}: expected no AVX-512 (zmm) register uses but found ${zmm}`);
  }
  return `objdump: 0 zmm (AVX-512) uses, ${ymm} ymm (AVX2) uses`;
}

/** The bytes of the `__TEXT,__text` section of a 64-bit Mach-O file. */
function machTextSection(path: string, bytes: Uint8Array): Uint8Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const commandCount = view.getUint32(16, true);
  const name = (at: number) =>
    new TextDecoder().decode(bytes.subarray(at, at + 16)).replace(/\0.*$/s, "");
  let at = 32; // mach_header_64
  for (let i = 0; i < commandCount; i++) {
    const command = view.getUint32(at, true);
    const size = view.getUint32(at + 4, true);
    if (command === 0x19) { // LC_SEGMENT_64
      const sectionCount = view.getUint32(at + 64, true);
      for (let s = 0; s < sectionCount; s++) {
        const section = at + 72 + s * 80;
        if (name(section) === "__text" && name(section + 16) === "__TEXT") {
          const sectionSize = Number(view.getBigUint64(section + 40, true));
          const offset = view.getUint32(section + 48, true);
          return bytes.subarray(offset, offset + sectionSize);
        }
      }
    }
    at += size;
  }
  throw new Error(`${path}: expected a __TEXT,__text section but found none`);
}

/** Every glibc symbol version the library needs must be at most 2.28. */
async function checkGlibcVersions(path: string): Promise<string> {
  // readelf reads any machine's ELF (objdump here only x86).
  const listing = await run("readelf", ["--version-info", "--wide", path], repoRoot);
  const versions = [...new Set(listing.match(/GLIBC_\d+(\.\d+)*/g) ?? [])];
  if (versions.length === 0) {
    throw new Error(`${path}: expected glibc symbol versions but found none`);
  }
  const parse = (v: string) => v.slice("GLIBC_".length).split(".").map(Number);
  const newer = versions.filter((v) => {
    const [major = 0, minor = 0] = parse(v);
    return major > glibcVersionMax[0] ||
      (major === glibcVersionMax[0] && minor > glibcVersionMax[1]);
  });
  if (newer.length > 0) {
    throw new Error(
      `${path}: expected glibc symbol versions <= 2.28 but found ${newer.join(", ")}`,
    );
  }
  const highest = versions.sort((a, b) => {
    const [pa, pb] = [parse(a), parse(b)];
    return (pa[0]! - pb[0]!) || ((pa[1] ?? 0) - (pb[1] ?? 0));
  }).at(-1);
  return `readelf: glibc versions needed ${versions.length}, highest ${highest}`;
}

function packageJson(fields: Record<string, unknown>): string {
  const { name, version, description, ...rest } = fields;
  return JSON.stringify({ name, version, description, license: "MIT", ...rest }, null, 2) + "\n";
}

async function writePlatformPackage(
  dir: string,
  built: BuiltLibrary,
  target: Target,
  version: string,
  license: Uint8Array,
): Promise<void> {
  await Deno.mkdir(dir, { recursive: true });
  await Deno.copyFile(built.path, `${dir}/${target.file}`);
  await Deno.writeFile(`${dir}/LICENSE`, license);
  await Deno.writeTextFile(
    `${dir}/package.json`,
    packageJson({
      name: built.packageName,
      version,
      description: `tacit's native library for ${target.os} ${target.arch} (prebuilt)`,
      type: "module",
      os: [target.os],
      cpu: [target.arch],
      files: [target.file, "index.js", "index.d.ts", "bun.js", "bun.d.ts"],
      exports: { ".": { bun: "./bun.js", default: "./index.js" } },
    }),
  );
  await Deno.writeTextFile(
    `${dir}/index.js`,
    `import { fileURLToPath } from "node:url";\n` +
      `/** The absolute path of this package's ${target.file}. */\n` +
      `export const libraryPath = fileURLToPath(new URL("./${target.file}", import.meta.url));\n`,
  );
  await Deno.writeTextFile(
    `${dir}/bun.js`,
    `// An import with { type: "file" }: \`bun build --compile\` embeds the library.\n` +
      `import libraryPath from "./${target.file}" with { type: "file" };\n` +
      `export { libraryPath };\n`,
  );
  const declaration = `/** The absolute path of this package's ${target.file}. */\n` +
    `export declare const libraryPath: string;\n`;
  await Deno.writeTextFile(`${dir}/index.d.ts`, declaration);
  await Deno.writeTextFile(`${dir}/bun.d.ts`, declaration);
}

async function writeMetaPackage(
  dir: string,
  built: BuiltLibrary[],
  version: string,
  license: Uint8Array,
): Promise<void> {
  await Deno.mkdir(dir, { recursive: true });
  await Deno.writeFile(`${dir}/LICENSE`, license);
  await Deno.writeTextFile(
    `${dir}/package.json`,
    packageJson({
      name: "@tacit/native",
      version,
      description: "tacit's prebuilt native library: installs the package for this platform",
      type: "module",
      files: ["index.js", "index.d.ts"],
      exports: { ".": { types: "./index.d.ts", default: "./index.js" } },
      optionalDependencies: Object.fromEntries(built.map((b) => [b.packageName, version])),
    }),
  );
  await Deno.writeTextFile(
    `${dir}/index.js`,
    `import process from "node:process";\n\n` +
      `/** The platform package for this process. */\n` +
      "export const packageName = `@tacit/native-${process.platform}-${process.arch}`;\n\n" +
      `let found;\n` +
      `try {\n` +
      `  found = (await import(packageName)).libraryPath;\n` +
      `} catch {\n` +
      `  found = undefined; // not installed: no prebuilt library for this platform\n` +
      `}\n` +
      `/** The path of the platform package's library, or undefined when it is not installed. */\n` +
      `export const libraryPath = found;\n`,
  );
  await Deno.writeTextFile(
    `${dir}/index.d.ts`,
    `/** The platform package for this process: \`@tacit/native-\${platform}-\${arch}\`. */\n` +
      `export declare const packageName: string;\n` +
      `/** The path of the platform package's library, or undefined when it is not installed. */\n` +
      `export declare const libraryPath: string | undefined;\n`,
  );
}

/** The table the loader checks prebuilt libraries against (the contract's shape). */
async function writeTable(path: string, built: BuiltLibrary[], version: string): Promise<void> {
  const entries = [...built]
    .sort((a, b) => a.packageName.localeCompare(b.packageName))
    .map((b) => `  "${b.packageName}": "${b.sha256}",\n`)
    .join("");
  await Deno.writeTextFile(
    path,
    `// Generated by scripts/release.ts: do not edit. It rewrites this file with the sha256 of\n` +
      `// every library it builds; the loader refuses a prebuilt library that differs.\n\n` +
      `/** The version of the platform packages this module loads (the package version in deno.json). */\n` +
      `export const PREBUILT_VERSION: string = ${JSON.stringify(version)};\n` +
      `/** sha256 (lowercase hex) of the library file in each platform package, by package name; written by scripts/release.ts. */\n` +
      `export const PREBUILT_SHA256: Readonly<Record<string, string>> = {${
        entries === "" ? "" : `\n${entries}`
      }};\n`,
  );
}

async function npmPack(dir: string, out: string): Promise<string> {
  const name = (await run("npm", ["pack", "--silent", "--pack-destination", out], dir)).trim();
  return `${out}/${name.split("\n").at(-1)}`;
}

async function main(): Promise<void> {
  const options = parseArgs(Deno.args);
  const { version } = JSON.parse(await Deno.readTextFile(`${options.source}/deno.json`)) as {
    version: string;
  };
  const license = await Deno.readFile(`${repoRoot}/LICENSE`);
  await Deno.mkdir(`${options.out}/npm`, { recursive: true });

  const built: BuiltLibrary[] = [];
  for (const name of options.targets) {
    const target = targets[name]!;
    console.error(`release: building ${name} (${target.zigTarget}, cpu ${target.zigCpu})...`);
    const library = await buildTarget(name, target, options.out);
    built.push(library);
    console.error(
      `release: ${name}: ${library.bytes} bytes, sha256 ${library.sha256}, ` +
        `${library.buildSeconds.toFixed(1)} s; ${library.checks.join("; ")}`,
    );
    await writePlatformPackage(
      `${options.out}/npm/native-${name}`,
      library,
      target,
      version,
      license,
    );
  }
  await writeMetaPackage(`${options.out}/npm/native`, built, version, license);
  await writeTable(options.table, built, version);
  const dirs = [...options.targets.map((name) => `native-${name}`), "native"];
  if (options.npm) {
    await buildNpm({ source: options.source, out: `${options.out}/npm/tacit`, version, license });
    dirs.push("tacit");
  }
  const packed: string[] = [];
  if (options.pack) {
    for (const dir of dirs) packed.push(await npmPack(`${options.out}/npm/${dir}`, options.out));
  }
  console.log(JSON.stringify({ version, table: options.table, built, packed }, null, 2));
}

if (import.meta.main) await main();
