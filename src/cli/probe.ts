/**
 * `astron-watch probe URL|host:port`: one probe now, its phases printed the
 * way `curl -w` prints them, exit 0 when up and 1 (with the reason) when down.
 *
 * @module
 */

import { parseConfigText } from "../config/load.ts";
import { formatProblem } from "../config/reader.ts";
import { redactUrl } from "../text_redact.ts";
import { PROBE_TYPES, type ProbeType } from "../config/schema.ts";
import { PROBES } from "../probe/registry.ts";
import { runProbe } from "../probe/scheduler.ts";
import { probeSecrets, redactSecrets } from "../probe/redact.ts";
import type { ProbePhases } from "../probe/types.ts";
import { Command, err, EXIT, out, parseFlags, UsageError } from "./command.ts";

const USAGE = `usage: astron-watch probe URL|host:port [options]

Runs one probe now and prints its phases like curl -w (seconds since the start):
  time_namelookup, time_connect, time_appconnect, time_starttransfer, time_total.
Exit 0 when the target is up, 1 when it is down (the reason on stderr).

The type follows from the target: http(s)://... is http, postgres://... is
postgres, host:port is tcp; --type says otherwise (redis, sse).

options:
  --timeout DURATION     the whole probe's deadline (default 5s)
  --type TYPE            http | tcp | postgres | redis | sse
  --method METHOD        HTTP method (default GET; POST for sse)
  -H, --header "K: V"    a request header (repeatable)
  --body TEXT            a request body
  --status CODES         expected statuses, comma-separated (default any 2xx/3xx)
  --contains TEXT        the body must contain TEXT
  -L, --follow-redirects follow up to 10 redirects (http) and check the last answer
  --password TEXT        redis AUTH password
  --json                 print the result as JSON
  -h, --help             show this help
`;

/** curl's `-w` names for our phases, in the order curl prints them. */
const CURL_NAMES: [keyof ProbePhases, string][] = [
  ["dns", "time_namelookup"],
  ["connect", "time_connect"],
  ["tls", "time_appconnect"],
  ["first_byte", "time_starttransfer"],
  ["total", "time_total"],
];

function inferType(target: string): ProbeType {
  if (/^https?:\/\//i.test(target)) return "http";
  if (/^postgres(ql)?:\/\//i.test(target)) return "postgres";
  return "tcp";
}

/** The `probe` command. */
export const probeCommand: Command = {
  name: "probe",
  summary: "one probe now, phases printed like curl -w; exit 0 up, 1 down",
  usage: USAGE,
  async run(argv) {
    const { values, positionals } = parseFlags(argv, {
      timeout: { type: "string" },
      type: { type: "string" },
      method: { type: "string" },
      header: { type: "string", short: "H", multiple: true },
      body: { type: "string" },
      status: { type: "string" },
      contains: { type: "string" },
      password: { type: "string" },
      "follow-redirects": { type: "boolean", short: "L" },
      json: { type: "boolean" },
    }, true);
    if (values.help) {
      out(USAGE);
      return EXIT.ok;
    }
    if (positionals.length !== 1) throw new UsageError("give one target: a URL or host:port");
    const target = positionals[0];
    const type = (values.type ?? inferType(target)) as ProbeType;
    if (!PROBE_TYPES.includes(type)) {
      throw new UsageError(`--type: "${values.type}" is not one of ${PROBE_TYPES.join(" | ")}`);
    }
    const headers: Record<string, string> = {};
    for (const h of values.header ?? []) {
      const i = h.indexOf(":");
      if (i <= 0) throw new UsageError(`--header: "${h}" is not "Name: value"`);
      headers[h.slice(0, i).trim()] = h.slice(i + 1).trim();
    }
    const timeout = values.timeout ?? "5s";
    // One probe is a one-probe config: the same validation as the file, the same messages.
    const probe: Record<string, unknown> = {
      name: "probe",
      type,
      [type === "tcp" || type === "redis" ? "target" : "url"]: target,
      timeout,
      interval: "1d",
      retries: 1,
    };
    if (values.method) probe.method = values.method;
    if (Object.keys(headers).length) probe.headers = headers;
    if (values.body !== undefined) probe.body = values.body;
    if (values.password !== undefined) probe.password = values.password;
    if (values["follow-redirects"]) probe.follow_redirects = true;
    const expect: Record<string, unknown> = {};
    if (values.status) expect.status = values.status.split(",").map((s) => s.trim());
    if (values.contains !== undefined) expect.body_contains = values.contains;
    if (Object.keys(expect).length) probe.expect = expect;
    // "$" is doubled so nothing on the command line is taken for a ${VAR} reference.
    const yaml = JSON.stringify({ probes: [probe] }).replaceAll("$", "$$$$");
    const parsed = parseConfigText(yaml, {}, "arguments");
    if (!parsed.ok) {
      const why = formatProblem(parsed.problems[0]).replace(/^probes\[0\]\./, "--");
      throw new UsageError(why);
    }
    const config = parsed.config.probes[0];
    const result = await runProbe(PROBES[type], config);
    // The target as given, without its password or any other secret the probe carries.
    const shown = redactUrl(redactSecrets(target, probeSecrets(config)));
    if (values.json) {
      out(JSON.stringify({ target: shown, type, ...result }) + "\n");
    } else {
      let text = `${type} ${shown}\n`;
      if (result.status !== undefined) text += `${"http_code".padEnd(19)}${result.status}\n`;
      if (result.redirects !== undefined) {
        text += `${"num_redirects".padEnd(19)}${result.redirects}\n`;
      }
      for (const [phase, name] of CURL_NAMES) {
        const ms = result.phases[phase];
        if (ms !== undefined) text += `${name.padEnd(19)}${(ms / 1000).toFixed(6)}s\n`;
      }
      text += `${"result".padEnd(19)}${result.ok ? "up" : "down"}\n`;
      out(text);
    }
    if (!result.ok) err(`astron-watch probe: down: ${result.reason}`);
    return result.ok ? EXIT.ok : EXIT.failure;
  },
};
