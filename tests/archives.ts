/**
 * Tar and zip archives built byte by byte for the loader and download-cache tests
 * (sharing no code with lib/datasets' readers).
 */
import { crc32, deflateRawSync } from "node:zlib";

const encoder = new TextEncoder();

export function concat(parts: Uint8Array[]): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function tarHeader(name: string, size: number, type: string): Uint8Array {
  const header = new Uint8Array(512);
  const put = (at: number, text: string) => header.set(encoder.encode(text), at);
  put(0, name);
  put(100, "0000644\0");
  put(108, "0000000\0");
  put(116, "0000000\0");
  put(124, size.toString(8).padStart(11, "0") + "\0");
  put(136, "00000000000\0");
  put(148, "        ");
  put(156, type);
  put(257, "ustar\0");
  put(263, "00");
  const sum = header.reduce((a, b) => a + b, 0);
  put(148, sum.toString(8).padStart(6, "0") + "\0 ");
  return header;
}

function tarEntry(name: string, data: Uint8Array, type = "0"): Uint8Array[] {
  const padding = new Uint8Array((512 - (data.length % 512)) % 512);
  return [tarHeader(name, data.length, type), data, padding];
}

/** A tar with a folder, a file with a GNU long name, and the given files. */
export function tar(files: Record<string, string | Uint8Array>): Uint8Array<ArrayBuffer> {
  const parts: Uint8Array[] = [...tarEntry("lastfm-dataset-360K/", new Uint8Array(0), "5")];
  const longName = "lastfm-dataset-360K/" + "x".repeat(120) + ".txt";
  parts.push(...tarEntry("././@LongLink", encoder.encode(longName + "\0"), "L"));
  parts.push(...tarEntry(longName.slice(0, 100), encoder.encode("long name body")));
  for (const [name, content] of Object.entries(files)) {
    parts.push(...tarEntry(name, typeof content === "string" ? encoder.encode(content) : content));
  }
  parts.push(new Uint8Array(1024));
  return concat(parts);
}

/** A zip whose entries are deflated, except names ending in `.stored`. */
export function zip(files: Record<string, string | Uint8Array>): Uint8Array<ArrayBuffer> {
  const locals: Uint8Array[] = [];
  const central: Uint8Array[] = [];
  let offset = 0;
  for (const [name, content] of Object.entries(files)) {
    const data = typeof content === "string" ? encoder.encode(content) : content;
    const method = name.endsWith(".stored") ? 0 : 8;
    const packed = method === 8 ? new Uint8Array(deflateRawSync(data)) : data;
    const nameBytes = encoder.encode(name);
    const crc = crc32(data) >>> 0;
    const local = new Uint8Array(30 + nameBytes.length);
    const lv = new DataView(local.buffer);
    lv.setUint32(0, 0x04034b50, true);
    lv.setUint16(4, 20, true);
    lv.setUint16(8, method, true);
    lv.setUint32(14, crc, true);
    lv.setUint32(18, packed.length, true);
    lv.setUint32(22, data.length, true);
    lv.setUint16(26, nameBytes.length, true);
    local.set(nameBytes, 30);
    const entry = new Uint8Array(46 + nameBytes.length);
    const cv = new DataView(entry.buffer);
    cv.setUint32(0, 0x02014b50, true);
    cv.setUint16(4, 20, true);
    cv.setUint16(6, 20, true);
    cv.setUint16(10, method, true);
    cv.setUint32(16, crc, true);
    cv.setUint32(20, packed.length, true);
    cv.setUint32(24, data.length, true);
    cv.setUint16(28, nameBytes.length, true);
    cv.setUint32(42, offset, true);
    entry.set(nameBytes, 46);
    locals.push(local, packed);
    central.push(entry);
    offset += local.length + packed.length;
  }
  const directory = concat(central);
  const end = new Uint8Array(22);
  const ev = new DataView(end.buffer);
  ev.setUint32(0, 0x06054b50, true);
  ev.setUint16(8, central.length, true);
  ev.setUint16(10, central.length, true);
  ev.setUint32(12, directory.length, true);
  ev.setUint32(16, offset, true);
  return concat([...locals, directory, end]);
}
