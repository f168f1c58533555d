/**
 * What a request is: its route family, its user agent's family, and whether
 * it looks like an attack (path traversal, injection probes, dotfiles,
 * oversized URLs, known scanners). Cheap first: one regex screens every
 * request, and only the few it flags are looked at closely.
 *
 * @module
 */

import type { RouteFamily } from "../config/access_logs.ts";
import { hash53, hash53WithoutDigits, slotOf } from "./hash53.ts";

/**
 * The route family of a path, first match wins; `other` when none does.
 * Answers are cached by the path's `hash53` in flat arrays (no string kept):
 * `slots` of them, emptied when half full. Two paths share an answer only if
 * their 53-bit hashes collide.
 */
export class RouteClassifier {
  readonly #routes: readonly RouteFamily[];
  readonly #names: string[];
  readonly #hashes: Float64Array;
  readonly #family: Uint16Array;
  #size = 0;

  /** @param slots cache size, a power of two (default 2^16: 1 MB) */
  constructor(routes: readonly RouteFamily[], slots = 1 << 16) {
    this.#routes = routes;
    this.#names = [...routes.map((r) => r.name), "other"];
    this.#hashes = new Float64Array(slots);
    this.#family = new Uint16Array(slots);
  }

  /** The family of `path`; `hash` is its `hash53` when the caller has it. */
  route(path: string, hash = hash53(path)): string {
    const h = hash || 1;
    let i = slotOf(this.#hashes, h);
    if (this.#hashes[i] === h) return this.#names[this.#family[i]];
    let f = this.#routes.findIndex((r) => r.patterns.some((p) => p.test(path)));
    if (f < 0) f = this.#routes.length;
    if (this.#size * 2 >= this.#hashes.length) {
      this.#hashes.fill(0);
      this.#size = 0;
      i = slotOf(this.#hashes, h);
    }
    this.#hashes[i] = h;
    this.#family[i] = f;
    this.#size++;
    return this.#names[f];
  }
}

/**
 * The request method as counted: the standard ones, anything else `OTHER`
 * (bounded labels). The answer is this module's own string, whose hash
 * V8 has kept, not the one cut from the line.
 */
export function methodOf(method: string): string {
  switch (method) {
    case "GET":
      return "GET";
    case "POST":
      return "POST";
    case "PUT":
      return "PUT";
    case "PATCH":
      return "PATCH";
    case "DELETE":
      return "DELETE";
    case "HEAD":
      return "HEAD";
    case "OPTIONS":
      return "OPTIONS";
    default:
      return "OTHER";
  }
}

/** User agent families, first match wins. */
const AGENTS: readonly [string, RegExp][] = [
  [
    "scanner",
    /sqlmap|nikto|nmap|masscan|zgrab|nuclei|dirbuster|gobuster|wpscan|acunetix|nessus|openvas|ffuf|wfuzz|hydra|zmeu|jorgee|lexplore|censys|netsystemsresearch/i,
  ],
  [
    "bot",
    /bot\b|bot\/|crawler|spider|slurp|baiduspider|yandex|bingpreview|facebookexternalhit|headless/i,
  ],
  ["curl", /^curl\//i],
  ["wget", /^wget\//i],
  ["python", /python-requests|python-urllib|aiohttp|httpx/i],
  ["go", /Go-http-client/],
  ["java", /^Java\/|okhttp|Apache-HttpClient/i],
  ["node", /node-fetch|axios|undici/i],
  ["edge", /Edg\//],
  ["opera", /OPR\//],
  ["wechat", /MicroMessenger/],
  ["chrome", /Chrome\//],
  ["firefox", /Firefox\//],
  ["safari", /Safari\//],
  ["ie", /MSIE |Trident\//],
];

/** Families by the user agent's hash without its digits: versions vary endlessly, families do not. */
const shapeFamilies = new Map<number, string>();

/** The family of a user agent string (`chrome`, `curl`, `bot`, `scanner`, ... or `other`). */
export function agentFamily(ua: string): string {
  if (ua === "" || ua === "-") return "none";
  // No family's pattern reads a digit (l9explore is matched as "lexplore"): one family per shape.
  const key = hash53WithoutDigits(ua);
  let f = shapeFamilies.get(key);
  if (f !== undefined) return f;
  const shape = ua.replace(/[0-9]+/g, "");
  f = "other";
  for (const [name, re] of AGENTS) {
    if (re.test(shape)) {
      f = name;
      break;
    }
  }
  if (shapeFamilies.size >= 10_000) shapeFamilies.clear();
  shapeFamilies.set(key, f);
  return f;
}

/** Longest URL (path and query) not flagged as oversized. */
export const MAX_URL = 2048;

const SCREEN =
  /\.\.|%2e|%00|%27|%3c|'|"|;|\||`|\$\(|\$\{|<|union|select|sleep|benchmark|etc\/passwd|cmd|exec|\/\./i;
const TRAVERSAL = /\.\.\/|\.\.\\|%2e%2e|\.\.%2f|%252e|etc\/passwd|win\.ini|%00/i;
const SQLI =
  /(\bunion\b.*\bselect\b|\bselect\b.+\bfrom\b|\bor\b\s*['"]?\d+['"]?\s*=\s*['"]?\d|'\s*(or|and)\s|--\s|\bsleep\s*\(|\bbenchmark\s*\(|%27|information_schema)/i;
const CMDI =
  /(;|\||`|\$\(|%3b|%7c)\s*(cat|ls|id|uname|wget|curl|bash|sh|nc|whoami|ping)\b|\$\{jndi:/i;
const XSS = /<script|%3cscript|javascript:|onerror\s*=/i;
const DOTFILE = /(^|\/)\.(?!well-known\/)[^/]+/;

/** Why a request looks like an attack, or undefined. */
export function suspicion(path: string, query: string, agent: string): string | undefined {
  if (agent === "scanner") return "scanner_agent";
  if (path.length + query.length > MAX_URL) return "oversized_url";
  // No screened pattern spans the "?": test the parts, join them only when flagged.
  if (!SCREEN.test(path) && !(query && SCREEN.test(query))) return undefined;
  const target = query ? `${path}?${query}` : path;
  let decoded = target;
  try {
    decoded = decodeURIComponent(target);
  } catch {
    // a bad escape is itself odd; look at it as it is
  }
  if (TRAVERSAL.test(target) || TRAVERSAL.test(decoded)) return "path_traversal";
  if (CMDI.test(decoded)) return "command_injection";
  if (SQLI.test(decoded)) return "sql_injection";
  if (XSS.test(decoded)) return "xss_probe";
  if (DOTFILE.test(path)) return "dotfile";
  return undefined;
}
