/**
 * `astron-watch access-log report FILE...`: an nginx access log analysed on
 * demand, as text, JSON (schema `astron-watch.access-report/v1`) or one
 * self-contained HTML file.
 *
 * @module
 */

import { type Command, EXIT, out, parseFlags, UsageError } from "./command.ts";
import { parseTime } from "../query_params.ts";
import { compileLogFormat, NAMED_FORMATS } from "../access/log_format.ts";
import { PLATFORM_ROUTES } from "../config/access_logs.ts";

const USAGE = `usage: astron-watch access-log report FILE... [options]

Reads nginx access logs (plain, .gz, or - for stdin) and prints a report:
traffic per route family, status, method and hour, top paths, clients, user
agents and referers, unique visitors (as GoAccess counts them), suspicious
requests with the reason, and 5xx bursts.

options:
  --format text|json|html   text (default); json has the stable schema
                            astron-watch.access-report/v1; html is one file
                            with no network requests
  --log-format F            main (default), combined, or the log_format text
                            itself: '$remote_addr - $remote_user [$time_local] ...'
  --since T  --until T      epoch ms, 2026-01-31, 2026-01-31T08:00:00Z, or "24h" (ago)
  --client auto|remote_addr|x_forwarded_for
                            who a visitor is (default auto: the first
                            X-Forwarded-For address when there is one)
  --jobs N                  workers reading plain files in parallel (default:
                            one per core, up to 4, for 32 MiB of input or more)
`;

/** The `access-log` command. */
export const accessLogCommand: Command = {
  name: "access-log",
  summary: "analyse nginx access logs: report FILE... as text, json or html",
  usage: USAGE,
  async run(argv) {
    const { values, positionals } = parseFlags(argv, {
      format: { type: "string", default: "text" },
      "log-format": { type: "string", default: "main" },
      since: { type: "string" },
      until: { type: "string" },
      client: { type: "string", default: "auto" },
      jobs: { type: "string" },
    }, true);
    if (values.help) {
      out(USAGE);
      return EXIT.ok;
    }
    const [verb, ...files] = positionals;
    if (verb !== "report") {
      throw new UsageError(verb ? `unknown subcommand "${verb}"` : "say report FILE...");
    }
    if (!files.length) throw new UsageError("name at least one FILE (or - for stdin)");
    const format = values.format;
    if (format !== "text" && format !== "json" && format !== "html") {
      throw new UsageError(`--format ${JSON.stringify(format)} is not text, json or html`);
    }
    const client = values.client;
    if (client !== "auto" && client !== "remote_addr" && client !== "x_forwarded_for") {
      throw new UsageError(
        `--client ${JSON.stringify(client)} is not auto, remote_addr or x_forwarded_for`,
      );
    }
    const jobs = values.jobs === undefined ? undefined : Number(values.jobs);
    if (jobs !== undefined && !(Number.isInteger(jobs) && jobs >= 1 && jobs <= 64)) {
      throw new UsageError(
        `--jobs ${JSON.stringify(values.jobs)} is not a whole number from 1 to 64`,
      );
    }
    const logFormat = NAMED_FORMATS[values["log-format"]] ?? values["log-format"];
    const compiled = compileLogFormat(logFormat);
    if (!compiled.ok) throw new UsageError(`--log-format: ${compiled.error}`);
    const now = Date.now();
    const time = (flag: "since" | "until") => {
      const text = values[flag];
      if (text === undefined) return undefined;
      const t = parseTime(text, now);
      if (t === undefined) {
        throw new UsageError(
          `--${flag} ${
            JSON.stringify(text)
          } is not a time (epoch ms, 2026-01-31, 2026-01-31T08:00:00Z, or 24h)`,
        );
      }
      return t;
    };
    const since = time("since");
    const until = time("until");
    for (const f of files) {
      if (f === "-") continue;
      try {
        await Deno.stat(f);
      } catch {
        throw new Error(`cannot read ${f}: no such file`);
      }
    }
    const { buildReport } = await import("../access/report.ts");
    const report = await buildReport({
      files,
      format: logFormat,
      client,
      since,
      until,
      jobs,
      routes: PLATFORM_ROUTES.map((f) => ({
        name: f.name,
        patterns: f.patterns.map((p) => new RegExp(p)),
      })),
    });
    if (format === "json") out(JSON.stringify(report, null, 2) + "\n");
    else if (format === "html") {
      out((await import("../access/report_html.ts")).renderReportHtml(report));
    } else out((await import("../access/report_text.ts")).renderReportText(report));
    return EXIT.ok;
  },
};
