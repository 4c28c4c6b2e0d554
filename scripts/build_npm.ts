/**
 * Compiles tacit's TypeScript (mod.ts and lib/) to JS + .d.ts as the npm package
 * `@tacit/tacit`, for Bun and Node users (Deno refuses .ts files inside node_modules).
 *
 *   deno run -A scripts/build_npm.ts [--source .] [--out dist/npm/tacit]
 *
 * It uses TypeScript's own compiler from npm, installed into `dist/tools/` when missing
 * (`rewriteRelativeImportExtensions` turns the `.ts` of relative imports into `.js`).
 * scripts/release.ts runs it with `--npm`.
 *
 * @module
 */

const typescriptVersion = "5.9";
const repoRoot = new URL("../", import.meta.url).pathname.replace(/\/$/, "");
const tools = `${repoRoot}/dist/tools`;

/** What to compile and where. */
export interface BuildNpmOptions {
  /** The directory holding mod.ts, lib/ and deno.json. */
  source: string;
  /** The package directory to write (replaced). */
  out: string;
  /** The package version (deno.json's). */
  version: string;
  /** The LICENSE file's bytes. */
  license: Uint8Array;
}

async function run(command: string, args: string[], cwd: string): Promise<void> {
  const output = await new Deno.Command(command, { args, cwd, stdout: "piped", stderr: "piped" })
    .output();
  if (!output.success) {
    const text = new TextDecoder();
    throw new Error(
      `${command} ${args.join(" ")} failed (exit ${output.code}):\n` +
        text.decode(output.stdout) + text.decode(output.stderr),
    );
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

/** TypeScript's compiler (and Node's types), installed into dist/tools/ once. */
async function ensureTypescript(): Promise<string> {
  const tsc = `${tools}/node_modules/typescript/bin/tsc`;
  if (!(await exists(tsc)) || !(await exists(`${tools}/node_modules/@types/node`))) {
    console.error(`build_npm: installing typescript@${typescriptVersion} into ${tools}`);
    await Deno.mkdir(tools, { recursive: true });
    await run("npm", [
      "install",
      "--prefix",
      tools,
      "--no-audit",
      "--no-fund",
      `typescript@${typescriptVersion}`,
      "@types/node@22",
    ], repoRoot);
  }
  return tsc;
}

/** Writes the `@tacit/tacit` package into `options.out`. */
export async function buildNpm(options: BuildNpmOptions): Promise<void> {
  const tsc = await ensureTypescript();
  const deno = JSON.parse(await Deno.readTextFile(`${options.source}/deno.json`)) as {
    compilerOptions?: Record<string, unknown>;
  };
  await Deno.remove(options.out, { recursive: true }).catch(() => {});
  await Deno.mkdir(options.out, { recursive: true });
  const config = await Deno.makeTempFile({ prefix: "tacit-tsconfig-", suffix: ".json" });
  try {
    await Deno.writeTextFile(
      config,
      JSON.stringify({
        compilerOptions: {
          ...deno.compilerOptions,
          target: "ES2022",
          module: "ESNext",
          moduleResolution: "Bundler",
          lib: ["ES2023"],
          types: ["node"],
          typeRoots: [`${tools}/node_modules/@types`],
          rewriteRelativeImportExtensions: true,
          declaration: true,
          rootDir: options.source,
          outDir: options.out,
          skipLibCheck: true,
          newLine: "lf",
        },
        include: [
          `${options.source}/mod.ts`,
          `${options.source}/cli.ts`,
          `${options.source}/lib/**/*.ts`,
        ],
      }),
    );
    await run("node", [tsc, "-p", config], options.source);
  } finally {
    await Deno.remove(config);
  }
  await rewriteDeclarationImports(options.out);
  await binShebang(`${options.out}/cli.js`);
  await Deno.writeFile(`${options.out}/LICENSE`, options.license);
  if (await exists(`${options.source}/README.md`)) {
    await Deno.copyFile(`${options.source}/README.md`, `${options.out}/README.md`);
  }
  await Deno.writeTextFile(
    `${options.out}/package.json`,
    JSON.stringify(
      {
        name: "@tacit/tacit",
        version: options.version,
        description: "Fast collaborative filtering for implicit feedback, for Deno and Bun",
        license: "MIT",
        type: "module",
        files: ["mod.js", "mod.d.ts", "cli.js", "cli.d.ts", "lib/"],
        exports: {
          ".": { types: "./mod.d.ts", default: "./mod.js" },
          "./cli": { types: "./cli.d.ts", default: "./cli.js" },
        },
        // `bunx @tacit/tacit <command>` (Bun: Node has no FFI the library uses).
        bin: { tacit: "./cli.js" },
        dependencies: { "@tacit/native": options.version },
      },
      null,
      2,
    ) + "\n",
  );
}

/** The npm bin runs under Bun: cli.ts's `deno run` shebang becomes `bun`'s. */
async function binShebang(path: string): Promise<void> {
  const text = await Deno.readTextFile(path);
  const body = text.startsWith("#!") ? text.slice(text.indexOf("\n") + 1) : text;
  await Deno.writeTextFile(path, `#!/usr/bin/env bun\n${body}`);
  await Deno.chmod(path, 0o755);
}

/**
 * `rewriteRelativeImportExtensions` rewrites the JS only: the `.d.ts` files keep
 * `"./x.ts"`, which a consumer's TypeScript need not resolve to `x.d.ts`. Point them at `.js`.
 */
async function rewriteDeclarationImports(dir: string): Promise<void> {
  for await (const entry of Deno.readDir(dir)) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory) await rewriteDeclarationImports(path);
    else if (entry.name.endsWith(".d.ts")) {
      const text = await Deno.readTextFile(path);
      await Deno.writeTextFile(
        path,
        text.replace(/(from\s+|import\()(["'])(\.\.?\/[^"']*)\.ts\2/g, "$1$2$3.js$2"),
      );
    }
  }
}

function parseArgs(args: string[]): { source: string; out: string } {
  let source = repoRoot;
  let out = `${repoRoot}/dist/npm/tacit`;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    const next = args[++i];
    if (next === undefined) throw new Error(`Expected a value after ${arg} but found none`);
    if (arg === "--source") source = next;
    else if (arg === "--out") out = next;
    else throw new Error(`Expected --source or --out but found ${arg}`);
  }
  const absolute = (p: string) => (p.startsWith("/") ? p : `${Deno.cwd()}/${p}`);
  return { source: absolute(source), out: absolute(out) };
}

if (import.meta.main) {
  const { source, out } = parseArgs(Deno.args);
  const { version } = JSON.parse(await Deno.readTextFile(`${source}/deno.json`)) as {
    version: string;
  };
  await buildNpm({ source, out, version, license: await Deno.readFile(`${repoRoot}/LICENSE`) });
  console.log(`build_npm: @tacit/tacit ${version} written to ${out}`);
}
