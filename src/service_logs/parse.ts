/**
 * Service log lines as the platform writes them: loguru's
 * `{level} | {time:YYYY-MM-DD HH:mm:ss} | {process} - {thread} | {file} - {function}: {line} {message}`,
 * JSON lines (`level`/`levelname`, `message`/`msg`, `time`/`timestamp`), or a
 * regex with named groups.
 *
 * @module
 */

/** One parsed line. */
export interface ServiceLine {
  level: string;
  /** Epoch ms, NaN when the line has no time. */
  time: number;
  message: string;
  /** The workflow run the line names, or "". */
  sid: string;
}

const SID = /\bsid["']?\s*[=:]\s*["']?([A-Za-z0-9@._:-]{6,80})/;

/** The `sid` a message names, or "". */
export function sidOf(text: string): string {
  return SID.exec(text)?.[1] ?? "";
}

/** `2026-11-26 10:00:00` in the host's time zone (loguru writes local time). */
function localTime(text: string): number {
  const m = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})(?:[.,](\d{1,6}))?/.exec(text);
  if (!m) return NaN;
  return new Date(
    +m[1],
    +m[2] - 1,
    +m[3],
    +m[4],
    +m[5],
    +m[6],
    Number((m[7] ?? "0").slice(0, 3).padEnd(3, "0")),
  )
    .getTime();
}

/** Parse a loguru line; undefined when it is not one (a traceback's continuation, say). */
export function parseLoguru(line: string): ServiceLine | undefined {
  const a = line.indexOf(" | ");
  if (a < 0 || a > 12) return undefined;
  const b = line.indexOf(" | ", a + 3);
  if (b < 0) return undefined;
  const c = line.indexOf(" | ", b + 3);
  if (c < 0) return undefined;
  const level = line.slice(0, a).trim().toUpperCase();
  if (!/^[A-Z]+$/.test(level)) return undefined;
  const rest = line.slice(c + 3);
  const m = /^.*? - .*?: \d+ (.*)$/s.exec(rest);
  const message = m ? m[1] : rest;
  return { level, time: localTime(line.slice(a + 3, b)), message, sid: sidOf(message) };
}

/** Parse a JSON line. */
export function parseJsonLine(line: string): ServiceLine | undefined {
  if (line[0] !== "{") return undefined;
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(line);
  } catch {
    return undefined;
  }
  const level = String(o.level ?? o.levelname ?? o.severity ?? "").toUpperCase();
  const message = String(o.message ?? o.msg ?? "");
  const t = o.time ?? o.timestamp ?? o.ts;
  const time = typeof t === "number" ? (t < 1e12 ? t * 1000 : t) : Date.parse(String(t ?? ""));
  const sid = typeof o.sid === "string" ? o.sid : sidOf(message);
  return level ? { level, time, message, sid } : undefined;
}

/** Parse with a regex's named groups `level`, `message` (and `time`, `sid`). */
export function parseWithRegex(re: RegExp, line: string): ServiceLine | undefined {
  const g = re.exec(line)?.groups;
  if (!g?.level) return undefined;
  const message = g.message ?? "";
  return {
    level: g.level.toUpperCase(),
    time: g.time ? (Date.parse(g.time) || localTime(g.time)) : NaN,
    message,
    sid: g.sid ?? sidOf(message),
  };
}
