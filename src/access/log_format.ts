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
/** Bits of a format's `present` mask (`1 << slot`): the fields checked when the format has them. */
const HAS_TIME_LOCAL = 1 << SLOTS.time_local;
/** A time the format logs, any of them: a line must carry it. */
const HAS_TIME = HAS_TIME_LOCAL | (1 << SLOTS.time_iso8601) | (1 << SLOTS.msec);
const HAS_STATUS = 1 << SLOTS.status;
const HAS_BODY_BYTES = 1 << SLOTS.body_bytes_sent;
const HAS_BYTES = 1 << SLOTS.bytes_sent;
const HAS_REQUEST_TIME = 1 << SLOTS.request_time;
const HAS_UPSTREAM_TIME = 1 << SLOTS.upstream_response_time;

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
  /** Seconds (the sum over upstreams tried; an upstream logged `-` adds nothing), or NaN (`-`). */
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
 *
 * The parser rejects a line (`parse` returns false: the caller counts it
 * unparsed) whose fields are not what nginx writes: `$status` other than
 * three digits 100..599; `$time_local` other than `dd/Mon/yyyy:hh:mm:ss
 * +hhmm` naming a real date (Feb 29 only in leap years), hours 0..23,
 * minutes 0..59, seconds 0..60 (60: a leap second, counted as the next
 * minute's first) and an offset of at most 14 hours and 59 minutes;
 * `$body_bytes_sent` / `$bytes_sent` other than a plain decimal integer, or
 * `-` (0, as Apache's `%b` writes it); `$request_time` other than a plain
 * decimal (`0.123`) or `-`; `$upstream_response_time` other than `-` or a
 * list of plain decimals and `-`, separated by `,` or `:` (nginx's
 * `0.010, 0.200` and `0.010 : 0.200`). Any of these the format has but the
 * line leaves empty is rejected too.
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
  let present = 0;
  for (const slot of slots) if (slot >= 0) present |= 1 << slot;
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
      return fill(values, present, out);
    },
  };
  return { ok: true, parser };
}

/** The month names nginx writes, 3 characters each: a name's index / 3 is its month (0 = Jan). */
const MONTH_NAMES = "JanFebMarAprMayJunJulAugSepOctNovDec";
const MONTH_DAYS = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/** The two ASCII digits at `i` as a number, or -1. */
function twoDigits(text: string, i: number): number {
  const a = text.charCodeAt(i) - 48;
  const b = text.charCodeAt(i + 1) - 48;
  return a >= 0 && a <= 9 && b >= 0 && b <= 9 ? a * 10 + b : -1;
}

/** Days from 1970-01-01 to a proleptic Gregorian date (`month` 1..12); any year, unlike `Date.UTC` (0..99 are 19xx there). */
function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (month > 2 ? month - 3 : month + 9) + 2) / 5) + day - 1;
  return era * 146_097 + yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy - 719_468;
}

/** `26/Nov/2026:10:00:00 +0800` -> the hour's epoch ms and its UTC day, cached per hour text. */
const hourCache = new Map<string, { ms: number; day: string }>();

/**
 * The hour of a `$time_local` (`dd/Mon/yyyy:hh` and ` +zzzz`, the characters
 * of the cache key), or undefined when it names no real hour: day 1..the
 * month's last (Feb 29 in leap years only), hours 0..23, offset `+` or `-`
 * then hours 0..14 and minutes 0..59. Called once per hour text.
 */
function hourOf(text: string): { ms: number; day: string } | undefined {
  if (text.charCodeAt(6) !== 47 || text.charCodeAt(11) !== 58) return undefined;
  const m = MONTH_NAMES.indexOf(text.slice(3, 6));
  if (m < 0 || m % 3 !== 0) return undefined;
  const month = m / 3;
  const century = twoDigits(text, 7);
  const yy = twoDigits(text, 9);
  if (century < 0 || yy < 0) return undefined;
  const year = century * 100 + yy;
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  const dd = twoDigits(text, 0);
  if (dd < 1 || dd > (month === 1 && leap ? 29 : MONTH_DAYS[month])) return undefined;
  const hh = twoDigits(text, 12);
  if (hh < 0 || hh > 23) return undefined;
  const sign = text.charCodeAt(21);
  const zh = twoDigits(text, 22);
  const zm = twoDigits(text, 24);
  if ((sign !== 43 && sign !== 45) || zh < 0 || zh > 14 || zm < 0 || zm > 59) return undefined;
  const offset = (sign === 45 ? -1 : 1) * (zh * 60 + zm) * 60_000;
  const ms = daysFromCivil(year, month + 1, dd) * 86_400_000 + hh * 3_600_000 - offset;
  // The visitor's day is the log's own calendar day, as GoAccess counts it.
  const day = `${text.slice(7, 11)}-${String(month + 1).padStart(2, "0")}-${text.slice(0, 2)}`;
  return { ms, day };
}

/** The last hour read (its cache key and value): logs come in time order, so most lines share it. */
const lastHour = { key: "", hour: { ms: 0, day: "" } };

/** Whether a `$time_local` text has the hour cache key `key` (its first 14 characters, then its offset's 6). */
function sameHour(text: string, key: string): boolean {
  if (key.length !== 20) return false;
  for (let i = 0; i < 14; i++) if (text.charCodeAt(i) !== key.charCodeAt(i)) return false;
  for (let i = 20; i < 26; i++) if (text.charCodeAt(i) !== key.charCodeAt(i - 6)) return false;
  return true;
}

function timeLocal(text: string, out: AccessLine): boolean {
  // dd/Mon/yyyy:hh:mm:ss +zzzz; the hour's part checked (and cached) by hourOf, the rest per line.
  if (
    text.length !== 26 || text.charCodeAt(2) !== 47 || text.charCodeAt(14) !== 58 ||
    text.charCodeAt(17) !== 58 || text.charCodeAt(20) !== 32
  ) return false;
  const mm = twoDigits(text, 15);
  const ss = twoDigits(text, 18);
  // -1 when not digits; a leap second (:60) counts as the next minute's first.
  if (mm < 0 || mm > 59 || ss < 0 || ss > 60) return false;
  let hour = lastHour.hour;
  if (!sameHour(text, lastHour.key)) {
    const key = text.slice(0, 14) + text.slice(20);
    let found = hourCache.get(key); // flattens `key`: it keeps nothing of the line
    if (!found) {
      found = hourOf(text);
      if (!found) return false;
      if (hourCache.size > 10_000) hourCache.clear();
      hourCache.set(key, found);
    }
    lastHour.key = key;
    lastHour.hour = hour = found;
  }
  out.time = hour.ms + mm * 60_000 + ss * 1000;
  out.day = hour.day;
  return true;
}

/** `$status`: three ASCII digits 100..599, or -1. */
function statusOf(text: string): number {
  if (text.length !== 3) return -1;
  const a = text.charCodeAt(0) - 48;
  const b = text.charCodeAt(1) - 48;
  const c = text.charCodeAt(2) - 48;
  if (a < 1 || a > 5 || b < 0 || b > 9 || c < 0 || c > 9) return -1;
  return a * 100 + b * 10 + c;
}

/** 2^53: past it, digits accumulated one by one may round differently than `Number` would. */
const EXACT = 9_007_199_254_740_992;

/** `$body_bytes_sent` / `$bytes_sent`: a plain decimal integer (`-` is 0), or -1. */
function bytesOf(text: string): number {
  const n = text.length;
  if (n === 0) return -1;
  if (n === 1 && text.charCodeAt(0) === 45) return 0;
  let v = 0;
  for (let i = 0; i < n; i++) {
    const d = text.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return -1;
    v = v * 10 + d;
  }
  return v < EXACT ? v : finite(Number(text));
}

/** `v`, or -1 when it is not finite (hundreds of digits). */
function finite(v: number): number {
  return Number.isFinite(v) ? v : -1;
}

const POW10 = [1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15];

/**
 * `text[from, to)` as a plain non-negative decimal, digits with at most one
 * `.` between digits (`0.123`, `12`), or -1 (no exponent, sign, spaces, hex).
 */
function decimal(text: string, from: number, to: number): number {
  if (from >= to) return -1;
  let v = 0;
  let point = -1;
  for (let i = from; i < to; i++) {
    const d = text.charCodeAt(i) - 48;
    if (d >= 0 && d <= 9) v = v * 10 + d;
    else if (d === -2 && point < 0 && i > from && i < to - 1) point = i;
    else return -1;
  }
  if (point < 0) return v < EXACT ? v : finite(Number(text.slice(from, to)));
  const fraction = to - point - 1;
  // One division of two exact integers: rounded as `Number` rounds the text.
  if (v < EXACT && fraction < POW10.length) return v / POW10[fraction];
  return finite(Number(text.slice(from, to)));
}

/**
 * `$upstream_response_time`: `-` (NaN), or the sum over the upstreams tried,
 * listed as nginx lists them (`0.010, 0.200`, `0.010 : 0.200`, an upstream
 * that gave no answer as `-`, adding nothing); -1 when an entry is not a
 * plain decimal or `-`.
 */
function upstreamSeconds(text: string): number {
  const n = text.length;
  if (n === 1 && text.charCodeAt(0) === 45) return NaN;
  let sum = 0;
  let start = 0;
  for (let i = 0; i <= n; i++) {
    const c = i < n ? text.charCodeAt(i) : 44;
    if (c !== 44 && c !== 58) continue; // `,` and `:` end an entry
    let a = start;
    let b = i;
    while (a < b && text.charCodeAt(a) === 32) a++;
    while (b > a && text.charCodeAt(b - 1) === 32) b--;
    if (b - a !== 1 || text.charCodeAt(a) !== 45) {
      const v = decimal(text, a, b);
      if (v < 0) return -1;
      sum += v;
    }
    start = i + 1;
  }
  return sum;
}

/** `v` (by slot) into `out`; false when a field the format has (`present`, by slot bit) is not valid. */
function fill(v: string[], present: number, out: AccessLine): boolean {
  out.remoteAddr = v[SLOTS.remote_addr];
  out.remoteUser = v[SLOTS.remote_user];
  out.time = NaN;
  out.day = "";
  if (present & HAS_TIME_LOCAL) {
    if (!timeLocal(v[SLOTS.time_local], out)) return false;
  } else if (v[SLOTS.time_iso8601]) {
    out.time = Date.parse(v[SLOTS.time_iso8601]);
    if (!Number.isFinite(out.time)) return false;
    out.day = v[SLOTS.time_iso8601].slice(0, 10);
  } else if (v[SLOTS.msec]) {
    out.time = Number(v[SLOTS.msec]) * 1000;
    if (!Number.isFinite(out.time)) return false;
    out.day = new Date(out.time).toISOString().slice(0, 10);
  } else if (present & HAS_TIME) return false; // the format's time field is empty
  if (present & HAS_STATUS) {
    const status = statusOf(v[SLOTS.status]);
    if (status < 0) return false;
    out.status = status;
  } else out.status = 0;
  // `$body_bytes_sent` when the format has it, else `$bytes_sent`; both checked.
  let bytes = 0;
  if (present & HAS_BYTES) {
    bytes = bytesOf(v[SLOTS.bytes_sent]);
    if (bytes < 0) return false;
  }
  if (present & HAS_BODY_BYTES) {
    bytes = bytesOf(v[SLOTS.body_bytes_sent]);
    if (bytes < 0) return false;
  }
  out.bytes = bytes;
  if (present & HAS_REQUEST_TIME) {
    const text = v[SLOTS.request_time];
    const t = text === "-" ? NaN : decimal(text, 0, text.length);
    if (t < 0) return false;
    out.requestTime = t;
  } else out.requestTime = NaN;
  if (present & HAS_UPSTREAM_TIME) {
    const t = upstreamSeconds(v[SLOTS.upstream_response_time]);
    if (t < 0) return false;
    out.upstreamTime = t;
  } else out.upstreamTime = NaN;
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
