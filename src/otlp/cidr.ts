/**
 * IP addresses and CIDR ranges (`172.16.0.0/12`, `fd00::/8`), for the OTLP
 * receiver's `allow_from`. Addresses are compared as 128-bit numbers, IPv4
 * as IPv4-mapped IPv6 (`::ffff:a.b.c.d`), so an IPv4 range also matches a
 * client a dual-stack listener reports as `::ffff:172.17.0.2`.
 *
 * @example
 * ```ts
 * const allowed = cidrMatcher([parseCidr("172.16.0.0/12")!]);
 * allowed("172.17.0.2"); // true
 * allowed("::ffff:172.17.0.2"); // true
 * allowed("10.0.0.1"); // false
 * ```
 *
 * @module
 */

/** A parsed range: the network as a 128-bit number and its prefix length (0-128, IPv4 as 96 + n). */
export interface Cidr {
  network: bigint;
  prefix: number;
  /** As written. */
  text: string;
}

const V4_MAPPED = 0xffffn << 32n;
const ALL = (1n << 128n) - 1n;

function parseV4(text: string): bigint | undefined {
  const parts = text.split(".");
  if (parts.length !== 4) return undefined;
  let n = 0n;
  for (const p of parts) {
    // No leading zeros: "010" is octal to some tools and decimal to others.
    if (!/^(0|[1-9]\d{0,2})$/.test(p) || Number(p) > 255) return undefined;
    n = (n << 8n) | BigInt(p);
  }
  return n;
}

function parseV6(text: string): bigint | undefined {
  if (!/^[0-9a-fA-F:.]+$/.test(text)) return undefined;
  const halves = text.split("::");
  if (halves.length > 2) return undefined;
  const groups = (s: string): number[] | undefined => {
    if (s === "") return [];
    const out: number[] = [];
    const items = s.split(":");
    for (let i = 0; i < items.length; i++) {
      const item = items[i];
      if (i === items.length - 1 && item.includes(".")) {
        const v4 = parseV4(item);
        if (v4 === undefined) return undefined;
        out.push(Number(v4 >> 16n), Number(v4 & 0xffffn));
      } else if (/^[0-9a-fA-F]{1,4}$/.test(item)) {
        out.push(parseInt(item, 16));
      } else {
        return undefined;
      }
    }
    return out;
  };
  const head = groups(halves[0]);
  const tail = halves.length === 2 ? groups(halves[1]) : [];
  if (!head || !tail) return undefined;
  // An IPv4 tail is only allowed at the very end.
  if (halves.length === 2 && halves[0].includes(".")) return undefined;
  const missing = 8 - head.length - tail.length;
  if (halves.length === 2 ? missing < 1 : missing !== 0) return undefined;
  let n = 0n;
  for (const g of [...head, ...Array(halves.length === 2 ? missing : 0).fill(0), ...tail]) {
    n = (n << 16n) | BigInt(g);
  }
  return n;
}

/**
 * An IPv4 or IPv6 address as a 128-bit number (IPv4 mapped to `::ffff:0:0/96`).
 * Brackets (`[::1]`) and a zone (`fe80::1%eth0`) are ignored.
 *
 * @returns the number, or `undefined` when `text` is not an address.
 */
export function parseIp(text: string): bigint | undefined {
  let s = text.trim();
  if (s.startsWith("[") && s.endsWith("]")) s = s.slice(1, -1);
  const zone = s.indexOf("%");
  if (zone >= 0 && s.includes(":")) s = s.slice(0, zone);
  if (s.includes(":")) return parseV6(s);
  const v4 = parseV4(s);
  return v4 === undefined ? undefined : V4_MAPPED | v4;
}

/**
 * A range `address/prefix` (a bare address is one host: /32 or /128). Host
 * bits below the prefix are ignored, as most tools do (`10.1.2.3/8` is `10.0.0.0/8`).
 *
 * @returns the range, or `undefined` when `text` is not one.
 */
export function parseCidr(text: string): Cidr | undefined {
  const s = text.trim();
  const slash = s.indexOf("/");
  const addrText = slash < 0 ? s : s.slice(0, slash);
  if (addrText.includes("%")) return undefined;
  const v6 = addrText.includes(":");
  const addr = parseIp(addrText);
  if (addr === undefined) return undefined;
  const width = v6 ? 128 : 32;
  let bits = width;
  if (slash >= 0) {
    const p = s.slice(slash + 1);
    if (!/^(0|[1-9]\d{0,2})$/.test(p) || Number(p) > width) return undefined;
    bits = Number(p);
  }
  const prefix = v6 ? bits : 96 + bits;
  return { network: addr & maskOf(prefix), prefix, text: s };
}

function maskOf(prefix: number): bigint {
  return prefix === 0 ? 0n : (ALL << BigInt(128 - prefix)) & ALL;
}

/**
 * A test of addresses against `cidrs`: true when the address is in any of
 * them; false for text that is not an address.
 */
export function cidrMatcher(cidrs: readonly Cidr[]): (address: string) => boolean {
  const ranges = cidrs.map((c) => ({ mask: maskOf(c.prefix), network: c.network }));
  return (address) => {
    const n = parseIp(address);
    if (n === undefined) return false;
    return ranges.some((r) => (n & r.mask) === r.network);
  };
}

/** True for loopback: `127.0.0.0/8`, `::1`, and their IPv4-mapped forms. */
export function isLoopbackIp(address: string): boolean {
  const n = parseIp(address);
  return n !== undefined && (n === 1n || (n >> 24n) === ((V4_MAPPED | (127n << 24n)) >> 24n));
}
