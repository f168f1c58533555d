/**
 * Silence matchers, written as Alertmanager's `amtool` takes them:
 * `rule=service-down`, `probe=~"redis.*"`, `service!=core-workflow`,
 * `func!~"chat.*"`. A regex matches the whole value.
 *
 * @module
 */

/** One matcher of a silence. */
export interface SilenceMatcher {
  name: string;
  value: string;
  isRegex: boolean;
  isEqual: boolean;
}

const MATCHER_RE = /^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*(.*?)\s*$/;

/** Parse `name=value`, `name!=value`, `name=~regex`, `name!~regex` (value optionally quoted). */
export function parseMatcher(text: string): SilenceMatcher | undefined {
  const m = MATCHER_RE.exec(text);
  if (!m) return undefined;
  let value = m[3];
  if (value.length >= 2 && value[0] === '"' && value.at(-1) === '"') {
    try {
      value = JSON.parse(value);
    } catch {
      return undefined;
    }
  }
  const isRegex = m[2].endsWith("~");
  if (isRegex && !validRegex(value)) return undefined;
  return { name: m[1], value, isRegex, isEqual: m[2][0] === "=" };
}

/** A matcher as text, the form {@linkcode parseMatcher} reads. */
export function formatMatcher(m: SilenceMatcher): string {
  const op = (m.isEqual ? "=" : "!") + (m.isRegex ? "~" : m.isEqual ? "" : "=");
  return `${m.name}${op}${JSON.stringify(m.value)}`;
}

function validRegex(src: string): boolean {
  try {
    new RegExp(src);
    return true;
  } catch {
    return false;
  }
}

/** Whether every matcher holds for the label set (a missing label is the empty string). */
export function matchesAll(
  matchers: readonly SilenceMatcher[],
  labels: Record<string, string>,
): boolean {
  return matchers.every((m) => {
    const v = labels[m.name] ?? "";
    const hit = m.isRegex ? anchored(m.value).test(v) : v === m.value;
    return hit === m.isEqual;
  });
}

const GLOBS = new Map<string, RegExp>();
const REGEXES = new Map<string, RegExp>();

/** A matcher's regex, anchored to the whole value, compiled once. */
function anchored(src: string): RegExp {
  let re = REGEXES.get(src);
  if (!re) {
    if (REGEXES.size > 10_000) REGEXES.clear();
    REGEXES.set(src, re = new RegExp(`^(?:${src})$`));
  }
  return re;
}

/** Whether a glob (`*` any run of characters, `?` one) matches the whole name. */
export function globMatch(glob: string, name: string): boolean {
  if (!/[*?]/.test(glob)) return glob === name;
  let re = GLOBS.get(glob);
  if (!re) {
    re = new RegExp(
      "^" + glob.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".") +
        "$",
    );
    GLOBS.set(glob, re);
  }
  return re.test(name);
}
