/**
 * The `access_logs:` section (issue 13): nginx access logs followed live,
 * each with its `log_format` (`main`, `combined` or the directive's text)
 * and the route families its requests are counted under.
 *
 * @module
 */

import { type ConfigReader, show } from "./reader.ts";
import { type FollowedEntry, readFollowed } from "./followed.ts";
import { compileLogFormat, NAMED_FORMATS } from "../access/log_format.ts";

/** One route family: a request whose path matches any pattern counts under `name`. */
export interface RouteFamily {
  name: string;
  patterns: RegExp[];
}

/** One entry of `access_logs`. */
export interface AccessLogConfig extends FollowedEntry {
  /** The `log_format` text (`main` and `combined` resolved to theirs). */
  format: string;
  /** Route families, first match wins; a path matching none counts as `other`. */
  routes: RouteFamily[];
  /** The client: `auto` (the first `X-Forwarded-For` address when there is one), `remote_addr` or `x_forwarded_for`. */
  client: "auto" | "remote_addr" | "x_forwarded_for";
}

/** The platform's nginx locations (its `nginx.conf`), first match wins. */
export const PLATFORM_ROUTES: readonly { name: string; patterns: string[] }[] = [
  { name: "sse", patterns: ["^/workflow/v1/chat/completions", "^/console-api/chat-message/"] },
  { name: "api", patterns: ["^/console-api/"] },
  { name: "static", patterns: ["\\.(js|css|png|jpg|jpeg|gif|ico|svg|woff2?|ttf|eot)$"] },
  { name: "health", patterns: ["^/nginx-health$"] },
  { name: "frontend", patterns: ["^/"] },
];

/** Compile route patterns; a bad one is a problem at its path. */
export function readRoutes(
  r: ConfigReader,
  value: unknown,
  path: string,
): RouteFamily[] {
  const source = value === undefined || value === null
    ? PLATFORM_ROUTES.map((f) => [f.name, f.patterns] as const)
    : typeof value === "object" && !Array.isArray(value)
    ? Object.entries(value as Record<string, unknown>)
    : (r.fail(path, `expected a mapping of route names to lists of regexes, got ${show(value)}`),
      []);
  const out: RouteFamily[] = [];
  for (const [name, raw] of source) {
    const at = `${path}.${name}`;
    if (!r.name(name, at)) continue;
    const list = typeof raw === "string" ? [raw] : r.list(raw, at) ?? [];
    const patterns: RegExp[] = [];
    list.forEach((p, i) => {
      try {
        patterns.push(new RegExp(String(p)));
      } catch (e) {
        r.fail(`${at}[${i}]`, `${show(p)} is not a regex: ${(e as Error).message}`);
      }
    });
    out.push({ name, patterns });
  }
  return out;
}

/** Validate `access_logs:`; every problem goes to `r`. */
export function readAccessLogs(r: ConfigReader, value: unknown): AccessLogConfig[] {
  return readFollowed(
    r,
    value,
    "access_logs",
    { keys: ["format", "routes", "client"], maxLine: 16 * 1024 },
    (o, at, base) => {
      const given = r.string(o.format, `${at}.format`, "main");
      const format = NAMED_FORMATS[given] ?? given;
      const compiled = compileLogFormat(format);
      if (!compiled.ok) r.fail(`${at}.format`, compiled.error);
      return {
        ...base,
        format,
        routes: readRoutes(r, o.routes, `${at}.routes`),
        client: r.oneOf(
          o.client,
          `${at}.client`,
          ["auto", "remote_addr", "x_forwarded_for"] as const,
          "auto",
        ),
      };
    },
  );
}
