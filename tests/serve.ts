/**
 * A read-only HTTP server over one directory on 127.0.0.1 (GET only, nothing
 * outside it), for the tests that import mod.ts the way a JSR consumer does.
 */
import { existsSync, readFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { extname, resolve, sep } from "node:path";

/** Serves `dir` on a free loopback port until `close()`; `requests` lists the paths asked for. */
export async function serveDirectory(
  dir: string,
): Promise<{ url: string; host: string; requests: string[]; close: () => Promise<void> }> {
  const root = resolve(dir);
  const requests: string[] = [];
  const types: Record<string, string> = {
    ".ts": "application/typescript",
    ".json": "application/json",
  };
  const server = createServer((request, response) => {
    requests.push(request.url ?? "/");
    const path = resolve(
      root,
      "." + decodeURIComponent(new URL(request.url ?? "/", "http://x").pathname),
    );
    if (
      request.method !== "GET" || !(path === root || path.startsWith(root + sep)) ||
      !existsSync(path) || path.endsWith(sep)
    ) {
      response.writeHead(request.method === "GET" ? 404 : 405).end();
      return;
    }
    try {
      const body = readFileSync(path);
      response.writeHead(200, {
        "content-type": types[extname(path)] ?? "application/octet-stream",
      });
      response.end(body);
    } catch {
      response.writeHead(404).end();
    }
  });
  await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`,
    host: `127.0.0.1:${port}`,
    requests,
    close: () => new Promise((done) => server.close(() => done())),
  };
}
