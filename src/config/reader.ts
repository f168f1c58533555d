/**
 * A small validating reader for config trees: every check takes the value and
 * its path, records a problem naming both when the value is wrong, and returns
 * the parsed value (or the default) so validation goes on and reports every
 * problem at once.
 *
 * @module
 */

import { parseDuration, parseSize } from "./units.ts";
import { redactUrl } from "../text_redact.ts";

/** One thing wrong with a config, with the path of the offending value. */
export interface ConfigProblem {
  /** Path like `probes[2].timeout`, or `(file)` for the whole file. */
  path: string;
  message: string;
}

/** Render a problem as the one line users see: `probes[2].timeout: "fast" is not a duration`. */
export function formatProblem(p: ConfigProblem): string {
  return p.path ? `${p.path}: ${p.message}` : p.message;
}

/** Host and port of a listen or target address. */
export interface HostPort {
  host: string;
  port: number;
}

/** A URL's password replaced by `***`, for messages: `postgres://spark:***@db/x`. */

/** Show a value in an error message: strings quoted, long values cut. */
export function show(value: unknown): string {
  let s: string;
  try {
    s = JSON.stringify(value) ?? String(value);
  } catch {
    s = String(value);
  }
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}

/** Join a path and a key: `probes[2]` + `timeout` -> `probes[2].timeout`. */
export function child(path: string, key: string | number): string {
  if (typeof key === "number") return `${path}[${key}]`;
  return path ? `${path}.${key}` : key;
}

/**
 * Parse `host:port` or `[v6]:port`. Returns `undefined` on anything else.
 *
 * @example
 * ```ts
 * parseHostPort("[::1]:9477"); // { host: "::1", port: 9477 }
 * ```
 */
export function parseHostPort(text: string): HostPort | undefined {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^\s:/\[\]]+)):(\d{1,5})$/.exec(text.trim());
  if (!m) return undefined;
  const port = Number(m[3]);
  if (port > 65535) return undefined;
  return { host: m[1] ?? m[2], port };
}

/** Format a host and port back, bracketing IPv6 hosts. */
export function formatHostPort({ host, port }: HostPort): string {
  return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0];
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = row[j];
      row[j] = Math.min(row[j] + 1, row[j - 1] + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return row[b.length];
}

/** Collects problems while reading a raw tree into typed values. */
const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

export class ConfigReader {
  readonly problems: ConfigProblem[] = [];

  /** Record a problem; always returns `undefined` so callers can `return r.fail(...)`. */
  fail(path: string, message: string): undefined {
    this.problems.push({ path, message });
    return undefined;
  }

  /**
   * Read a mapping whose keys must all be in `keys`. A missing or null value
   * gives `{}` so defaults apply; a non-mapping is a problem.
   */
  object(value: unknown, path: string, keys: readonly string[]): Record<string, unknown> {
    if (value === undefined || value === null) return {};
    if (typeof value !== "object" || Array.isArray(value)) {
      this.fail(path, `expected a mapping of ${keys.join(", ")}, got ${show(value)}`);
      return {};
    }
    const obj = value as Record<string, unknown>;
    for (const key of Object.keys(obj)) {
      if (keys.includes(key)) continue;
      const near = keys.find((k) => editDistance(k, key) <= 2);
      this.fail(
        child(path, key),
        near ? `unknown key (did you mean "${near}"?)` : `unknown key (known: ${keys.join(", ")})`,
      );
    }
    return obj;
  }

  /** A string; numbers and booleans are taken as their text (YAML unquoted scalars). */
  string(value: unknown, path: string, fallback: string): string {
    if (value === undefined || value === null) return fallback;
    if (typeof value === "string") return value;
    if (typeof value === "number" || typeof value === "boolean") return String(value);
    return this.fail(path, `expected a string, got ${show(value)}`) ?? fallback;
  }

  /** One of a fixed set of strings. */
  oneOf<T extends string>(value: unknown, path: string, choices: readonly T[], fallback: T): T {
    if (value === undefined || value === null) return fallback;
    if (typeof value === "string" && (choices as readonly string[]).includes(value)) {
      return value as T;
    }
    return this.fail(path, `${show(value)} is not one of ${choices.join(" | ")}`) ?? fallback;
  }

  /** A boolean (YAML `true`/`false`; also the strings `"true"`/`"false"`, as `${VAR}` gives). */
  boolean(value: unknown, path: string, fallback: boolean): boolean {
    if (value === undefined || value === null) return fallback;
    if (typeof value === "boolean") return value;
    if (value === "true") return true;
    if (value === "false") return false;
    return this.fail(path, `${show(value)} is not a boolean (true | false)`) ?? fallback;
  }

  /** An integer within `[min, max]`; numeric strings are accepted (`${VAR}` gives strings). */
  integer(value: unknown, path: string, fallback: number, min: number, max: number): number {
    if (value === undefined || value === null) return fallback;
    const n = typeof value === "string" && /^-?\d+$/.test(value.trim()) ? Number(value) : value;
    if (typeof n !== "number" || !Number.isInteger(n)) {
      return this.fail(path, `${show(value)} is not a whole number`) ?? fallback;
    }
    if (n < min || n > max) {
      return this.fail(path, `${show(value)} is out of range (${min} to ${max})`) ?? fallback;
    }
    return n;
  }

  /**
   * A duration in milliseconds, from text like `500ms`, `15s`, `7d`, `1y`.
   * There is no upper bound: a duration is a value, and the timers that wait
   * for one chunk long waits (see `src/timers.ts`).
   */
  duration(value: unknown, path: string, fallback: number, minMs = 0): number {
    if (value === undefined || value === null) return fallback;
    const ms = typeof value === "string" ? parseDuration(value) : value === 0 ? 0 : undefined;
    if (ms === undefined) {
      return this.fail(path, `${show(value)} is not a duration (like 500ms, 15s, 1h, 7d)`) ??
        fallback;
    }
    if (ms < minMs) {
      return this.fail(path, `${show(value)} is too short (at least ${minMs}ms)`) ?? fallback;
    }
    return ms;
  }

  /** A size in bytes, from text like `10MB`, `512KiB`, or a plain number of bytes. */
  size(value: unknown, path: string, fallback: number, minBytes = 0): number {
    if (value === undefined || value === null) return fallback;
    const bytes = typeof value === "number"
      ? Number.isInteger(value) && value >= 0 ? value : undefined
      : typeof value === "string"
      ? parseSize(value)
      : undefined;
    if (bytes === undefined) {
      return this.fail(path, `${show(value)} is not a size (like 10MB, 512KiB, 2GB)`) ?? fallback;
    }
    if (bytes < minBytes) {
      return this.fail(path, `${show(value)} is too small (at least ${minBytes} bytes)`) ??
        fallback;
    }
    return bytes;
  }

  /** A `host:port` address. */
  hostPort(value: unknown, path: string, fallback?: HostPort): HostPort | undefined {
    if (value === undefined || value === null || value === "") {
      return fallback ?? this.fail(path, "is required (host:port)");
    }
    if (Array.isArray(value)) {
      // `listen: [::1]:9477` unquoted: YAML reads `[::1]` as a list.
      return this.fail(
        path,
        `${show(value)} is a YAML list: quote an IPv6 address, like "[::1]:9477"`,
      );
    }
    const hp = typeof value === "string" ? parseHostPort(value) : undefined;
    if (!hp) {
      return this.fail(path, `${show(value)} is not host:port with a port from 0 to 65535`);
    }
    return hp;
  }

  /** A URL whose scheme is one of `schemes` (`["http:", "https:"]`). */
  url(value: unknown, path: string, schemes: readonly string[]): URL | undefined {
    if (value === undefined || value === null || value === "") {
      return this.fail(path, `is required (a ${schemes.map((s) => s + "//").join(" or ")} URL)`);
    }
    const shown = show(typeof value === "string" ? redactUrl(value) : value);
    let url: URL;
    try {
      url = new URL(String(value));
    } catch {
      return this.fail(path, `${shown} is not a URL`);
    }
    if (!schemes.includes(url.protocol)) {
      return this.fail(
        path,
        `${shown} has scheme ${url.protocol.slice(0, -1)}, expected ${
          schemes.map((s) => s.slice(0, -1)).join(" or ")
        }`,
      );
    }
    if (!url.hostname) return this.fail(path, `${shown} has no host`);
    if (url.port !== "" && Number(url.port) === 0) {
      return this.fail(path, `${shown} has port 0`);
    }
    return url;
  }

  /** A name (probe, rule, channel): letters, digits, `_`, `-`, `.`, at most 64; true when it is one. */
  name(name: string, path: string): boolean {
    if (NAME_RE.test(name)) return true;
    this.fail(path, `${show(name)} must be letters, digits, "_", "-" or "." (max 64)`);
    return false;
  }

  /** A list; a missing value gives `undefined` so the caller picks the default. */
  list(value: unknown, path: string): unknown[] | undefined {
    if (value === undefined || value === null) return undefined;
    if (!Array.isArray(value)) return this.fail(path, `expected a list, got ${show(value)}`);
    return value;
  }
}

/** A mapping of HTTP header names to values (names checked). */
export function readHeaders(r: ConfigReader, value: unknown, path: string): Record<string, string> {
  if (value === undefined || value === null) return {};
  if (typeof value !== "object" || Array.isArray(value)) {
    return r.fail(path, `expected a mapping of header names to values, got ${show(value)}`) ?? {};
  }
  const headers: Record<string, string> = {};
  for (const [key, v] of Object.entries(value)) {
    if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(key)) {
      r.fail(`${path}.${key}`, `${show(key)} is not a valid header name`);
      continue;
    }
    headers[key] = r.string(v, `${path}.${key}`, "");
  }
  return headers;
}
