/**
 * nginx's `log_format`, compiled: the directive's text (or the built-in
 * `main` and `combined`) becomes a line parser that splits on the literal
 * text between variables, the way nginx wrote it. No regex per line: each
 * variable ends where the next literal begins (`indexOf`), which is what
 * makes 2M lines a few seconds.
 *
 * @module
 */

/** The formats known by name: nginx's own `combined` and the platform's `main`. */
export const NAMED_FORMATS: Record<string, string> = {
  combined:
    '$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent"',
  main:
    '$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent" "$http_x_forwarded_for"',
};

/** Variables nginx can log that this parser knows (besides the `http_`, `sent_http_`, `cookie_`, `arg_`, `upstream_http_` families). */
const KNOWN = new Set([
  "remote_addr",
  "remote_user",
  "remote_port",
  "realip_remote_addr",
  "binary_remote_addr",
  "time_local",
  "time_iso8601",
  "msec",
  "request",
  "request_method",
  "request_uri",
  "uri",
  "document_uri",
  "args",
  "query_string",
  "server_protocol",
  "status",
  "body_bytes_sent",
  "bytes_sent",
  "request_length",
  "request_time",
  "upstream_response_time",
  "upstream_connect_time",
  "upstream_header_time",
  "upstream_addr",
  "upstream_status",
  "upstream_cache_status",
  "upstream_bytes_received",
  "upstream_bytes_sent",
  "host",
  "hostname",
  "server_name",
  "server_addr",
  "server_port",
  "scheme",
  "https",
  "connection",
  "connection_requests",
  "pipe",
  "gzip_ratio",
  "ssl_protocol",
  "ssl_cipher",
  "ssl_server_name",
  "request_id",
  "pid",
  "proxy_host",
  "proxy_add_x_forwarded_for",
]);
const FAMILIES = ["http_", "sent_http_", "upstream_http_", "cookie_", "arg_", "sent_trailer_"];

/** The fields the analysis reads, by slot. Variables not listed are parsed over and dropped. */
const SLOTS = {
  remote_addr: 0,
  remote_user: 1,
  time_local: 2,
  time_iso8601: 3,
  msec: 4,
  request: 5,
  request_method: 6,
  request_uri: 7,
  server_protocol: 8,
  status: 9,
  body_bytes_sent: 10,
  bytes_sent: 11,
  http_referer: 12,
  http_user_agent: 13,
  http_x_forwarded_for: 14,
  request_time: 15,
  upstream_response_time: 16,
  host: 17,
} as const;
type Slot = keyof typeof SLOTS;
const SLOT_COUNT = 18;

/** One parsed line. The parser reuses one object: read it before the next line. */
export interface AccessLine {
  remoteAddr: string;
  remoteUser: string;
  /** Epoch ms, or NaN when the format has no time. */
  time: number;
  /** The day as text (`2026-11-26`), for unique visitors. */
  day: string;
  method: string;
  path: string;
  query: string;
  protocol: string;
  status: number;
  bytes: number;
  referer: string;
  userAgent: string;
  forwardedFor: string;
  /** Seconds, or NaN when absent (`-`). */
  requestTime: number;
  /** Seconds (the sum over upstreams tried), or NaN. */
  upstreamTime: number;
  host: string;
}

/** A compiled format: `parse` fills `out` and says whether the line matched. */
export interface LineParser {
  /** The variables in the format, in order. */
  readonly variables: readonly string[];
  /** Whether the format logs `$request_time` / `$upstream_response_time`. */
  readonly hasRequestTime: boolean;
  readonly hasUpstreamTime: boolean;
  readonly hasTime: boolean;
  parse(line: string, out: AccessLine): boolean;
}

/** The outcome of {@linkcode compileLogFormat}. */
export type CompileResult = { ok: true; parser: LineParser } | { ok: false; error: string };

/** An empty line record to parse into. */
export function emptyLine(): AccessLine {
  return {
    remoteAddr: "",
    remoteUser: "",
    time: NaN,
    day: "",
    method: "",
    path: "",
    query: "",
    protocol: "",
    status: 0,
    bytes: 0,
    referer: "",
    userAgent: "",
    forwardedFor: "",
    requestTime: NaN,
    upstreamTime: NaN,
    host: "",
  };
}

/**
 * Compile a `log_format` text (the directive's quoted parts joined, as nginx
 * joins them). An unknown variable, or two variables with nothing between
 * them, is an error naming it.
 */
export function compileLogFormat(format: string): CompileResult {
  const literals: string[] = [];
  const vars: string[] = [];
  const re = /\$(?:\{([A-Za-z0-9_]+)\}|([A-Za-z0-9_]+))/g;
  let last = 0;
  for (let m = re.exec(format); m; m = re.exec(format)) {
    literals.push(format.slice(last, m.index));
    vars.push(m[1] ?? m[2]);
    last = m.index + m[0].length;
  }
  literals.push(format.slice(last));
  if (!vars.length) return { ok: false, error: `${JSON.stringify(format)} has no $variables` };
  for (const v of vars) {
    if (!KNOWN.has(v) && !FAMILIES.some((f) => v.startsWith(f) && v.length > f.length)) {
      return { ok: false, error: `unknown log_format variable $${v}` };
    }
  }
  for (let i = 1; i < vars.length; i++) {
    if (literals[i] === "") {
      return {
        ok: false,
        error: `$${vars[i - 1]} and $${vars[i]} have nothing between them: the log cannot be split`,
      };
    }
  }
  const slots = vars.map((v) => (v in SLOTS ? SLOTS[v as Slot] : -1));
  const has = (v: Slot) => vars.includes(v);
  const values = new Array<string>(SLOT_COUNT).fill("");
  const n = vars.length;
  const head = literals[0];
  const parser: LineParser = {
    variables: vars,
    hasRequestTime: has("request_time"),
    hasUpstreamTime: has("upstream_response_time"),
    hasTime: has("time_local") || has("time_iso8601") || has("msec"),
    parse(line, out) {
      if (head && !line.startsWith(head)) return false;
      let pos = head.length;
      values.fill("");
      for (let i = 0; i < n; i++) {
        const lit = literals[i + 1];
        let end: number;
        if (i === n - 1 && lit === "") end = line.length;
        else {
          end = line.indexOf(lit, pos);
          if (end < 0) return false;
          // The last literal ends the line: take its last occurrence, so a
          // value may contain it (a trailing quote after a quoted field).
          if (i === n - 1 && !line.endsWith(lit)) return false;
          if (i === n - 1) end = line.length - lit.length;
        }
        const slot = slots[i];
        if (slot >= 0) values[slot] = line.slice(pos, end);
        pos = end + lit.length;
      }
      return fill(values, out);
    },
  };
  return { ok: true, parser };
}

const MONTHS: Record<string, number> = {
  Jan: 0,
  Feb: 1,
  Mar: 2,
  Apr: 3,
  May: 4,
  Jun: 5,
  Jul: 6,
  Aug: 7,
  Sep: 8,
  Oct: 9,
  Nov: 10,
  Dec: 11,
};

/** `26/Nov/2026:10:00:00 +0800` -> the hour's epoch ms and its UTC day, cached per hour text. */
const hourCache = new Map<string, { ms: number; day: string }>();

function timeLocal(text: string, out: AccessLine): boolean {
  // dd/Mon/yyyy:hh:mm:ss +zzzz
  if (text.length !== 26 || text.charCodeAt(2) !== 47 || text.charCodeAt(20) !== 32) return false;
  const key = text.slice(0, 14) + text.slice(20);
  let hour = hourCache.get(key);
  if (!hour) {
    const month = MONTHS[text.slice(3, 6)];
    const tz = text.slice(21);
    const sign = tz[0] === "-" ? -1 : 1;
    const offset = sign * (Number(tz.slice(1, 3)) * 60 + Number(tz.slice(3, 5))) * 60_000;
    const ms = Date.UTC(
      Number(text.slice(7, 11)),
      month,
      Number(text.slice(0, 2)),
      Number(text.slice(12, 14)),
    ) - offset;
    if (month === undefined || !Number.isFinite(ms)) return false;
    if (hourCache.size > 10_000) hourCache.clear();
    // The visitor's day is the log's own calendar day, as GoAccess counts it.
    const day = `${text.slice(7, 11)}-${String(month + 1).padStart(2, "0")}-${text.slice(0, 2)}`;
    hourCache.set(key, hour = { ms, day });
  }
  const mm = (text.charCodeAt(15) - 48) * 10 + text.charCodeAt(16) - 48;
  const ss = (text.charCodeAt(18) - 48) * 10 + text.charCodeAt(19) - 48;
  out.time = hour.ms + mm * 60_000 + ss * 1000;
  out.day = hour.day;
  return true;
}

function seconds(text: string): number {
  if (text === "" || text === "-") return NaN;
  // `$upstream_response_time` lists each upstream tried: "0.010, 0.200" or "0.01 : 0.2".
  if (text.includes(",") || text.includes(":")) {
    let sum = 0;
    for (const part of text.split(/[,:]/)) {
      const v = Number(part.trim());
      if (Number.isFinite(v)) sum += v;
    }
    return sum;
  }
  const v = Number(text);
  return Number.isFinite(v) ? v : NaN;
}

function fill(v: string[], out: AccessLine): boolean {
  out.remoteAddr = v[SLOTS.remote_addr];
  out.remoteUser = v[SLOTS.remote_user];
  out.time = NaN;
  out.day = "";
  if (v[SLOTS.time_local]) {
    if (!timeLocal(v[SLOTS.time_local], out)) return false;
  } else if (v[SLOTS.time_iso8601]) {
    out.time = Date.parse(v[SLOTS.time_iso8601]);
    if (!Number.isFinite(out.time)) return false;
    out.day = v[SLOTS.time_iso8601].slice(0, 10);
  } else if (v[SLOTS.msec]) {
    out.time = Number(v[SLOTS.msec]) * 1000;
    if (!Number.isFinite(out.time)) return false;
    out.day = new Date(out.time).toISOString().slice(0, 10);
  }
  const status = v[SLOTS.status];
  if (status) {
    if (status.length !== 3) return false;
    out.status = (status.charCodeAt(0) - 48) * 100 + (status.charCodeAt(1) - 48) * 10 +
      status.charCodeAt(2) - 48;
    if (!(out.status >= 100 && out.status <= 999)) return false;
  } else out.status = 0;
  const bytesText = v[SLOTS.body_bytes_sent] || v[SLOTS.bytes_sent];
  out.bytes = bytesText === "" || bytesText === "-" ? 0 : Number(bytesText);
  if (!Number.isFinite(out.bytes)) return false;
  const request = v[SLOTS.request];
  if (request) splitRequest(request, out);
  else {
    out.method = v[SLOTS.request_method];
    const uri = v[SLOTS.request_uri];
    const q = uri.indexOf("?");
    out.path = q < 0 ? uri : uri.slice(0, q);
    out.query = q < 0 ? "" : uri.slice(q + 1);
    out.protocol = v[SLOTS.server_protocol];
  }
  out.referer = v[SLOTS.http_referer];
  out.userAgent = v[SLOTS.http_user_agent];
  out.forwardedFor = v[SLOTS.http_x_forwarded_for];
  out.requestTime = seconds(v[SLOTS.request_time]);
  out.upstreamTime = seconds(v[SLOTS.upstream_response_time]);
  out.host = v[SLOTS.host];
  return true;
}

/** `GET /a/b?x=1 HTTP/1.1` into method, path, query and protocol; anything else keeps its text as the path. */
function splitRequest(request: string, out: AccessLine): void {
  const s1 = request.indexOf(" ");
  const s2 = request.lastIndexOf(" ");
  if (s1 < 0) {
    out.method = "";
    out.path = request === "-" ? "" : request;
    out.query = "";
    out.protocol = "";
    return;
  }
  out.method = request.slice(0, s1);
  let uri: string;
  if (s2 > s1 && request.startsWith("HTTP/", s2 + 1)) {
    uri = request.slice(s1 + 1, s2);
    out.protocol = request.slice(s2 + 1);
  } else {
    uri = request.slice(s1 + 1);
    out.protocol = "";
  }
  const q = uri.indexOf("?");
  out.path = q < 0 ? uri : uri.slice(0, q);
  out.query = q < 0 ? "" : uri.slice(q + 1);
}
