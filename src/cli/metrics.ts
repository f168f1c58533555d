/**
 * `astron-watch metrics query --name N [--by l1,l2] [--since T] [--until T]
 * [--step D] [--q 0.99] [--service S] [--json]`: one received platform
 * metric as time series, read from the rollups in the store (the agent
 * need not run). The flags are `GET /api/v1/metrics/query`'s parameters.
 *
 * @module
 */

import { parseMetricQuery } from "../rollups/params.ts";
import { type MetricQueryResult, RollupQueryError, StoredMetricsReader } from "../rollups/read.ts";
import { type Command, EXIT, out, parseFlags, UsageError } from "./command.ts";
import { msText } from "./services.ts";
import { openStoreForReading } from "./open_store.ts";
import { textTable } from "../text_table.ts";

const USAGE = `usage: astron-watch metrics query --name NAME [--by L1,L2] [--since T] [--until T]
                                 [--step D] [--q 0.99] [--service S] [--json]

One metric received from the platform over OTLP, as time series read from
the store named by store.url in the config, without the agent: per step, a
counter's rate per second, a histogram's quantile (--q), a gauge's last
value (summed over the group). One series per value of the --by labels
("service" is the sending service).

options:
  --name NAME         the metric, as sent (server_request_total, ...)
  --by L1,L2          labels to group by (default: everything in one series)
  --since T           epoch ms, 2026-01-31, 2026-01-31T08:00:00Z, or "1h" (ago); default 1h ago
  --until T           likewise; default now
  --step D            a whole number of minutes: 1m (default), 5m, 1h
  --q Q               the quantile for histograms, 0 to 1 (default 0.99)
  --service S         only this service's series
  -c, --config FILE   the YAML config (default ./astron-watch.yaml if present,
                      else the built-in defaults)
  --json              print JSON, as GET /api/v1/metrics/query answers
  -h, --help          show this help

Exit codes: 0 ok, 1 the store cannot be read, 2 usage or config error.
`;

const FLAGS = {
  config: { type: "string", short: "c" },
  json: { type: "boolean" },
  name: { type: "string" },
  by: { type: "string" },
  since: { type: "string" },
  until: { type: "string" },
  step: { type: "string" },
  q: { type: "string" },
  service: { type: "string" },
} as const;

const time = (ms: number) => new Date(ms).toISOString().replace("T", " ").slice(0, 16);

/** A query's answer as a table: one line per step and group. */
export function queryText(r: MetricQueryResult): string {
  if (!r.series.length) return `no series named ${r.name} in the range\n`;
  const what = r.value === "rate_per_second"
    ? "rate per second"
    : r.value === "quantile"
    ? `quantile ${r.q}`
    : "last value";
  const rows: string[][] = [];
  for (const s of r.series) {
    const group = Object.entries(s.labels).map(([k, v]) => `${k}=${v}`).join(",") || "(all)";
    for (const [t, v] of s.points) {
      const text = v === null
        ? "-"
        : r.value === "quantile" && r.name === "server_request_time_microseconds"
        ? msText(v)
        : String(v);
      rows.push([time(t), group, text]);
    }
  }
  return `${r.name} (${r.kind}): ${what}, step ${r.step_seconds / 60}m\n` +
    textTable(["TIME (UTC)", "GROUP", "VALUE"], rows);
}

/** The `metrics` command. */
export const metricsCommand: Command = {
  name: "metrics",
  summary: "query platform metrics received over OTLP",
  usage: USAGE,
  async run(argv) {
    const { values, positionals } = parseFlags(argv, FLAGS, true);
    if (values.help) {
      out(USAGE);
      return EXIT.ok;
    }
    const [action, ...rest] = positionals;
    if (action !== "query") {
      throw new UsageError(action ? `unknown action "${action}" (query)` : "query is the action");
    }
    if (rest.length) throw new UsageError(`unexpected argument "${rest[0]}"`);
    const params: Record<string, string> = {};
    for (const k of ["name", "by", "since", "until", "step", "q", "service"] as const) {
      const v = values[k];
      if (v !== undefined) params[k] = v;
    }
    if (params.name === undefined) throw new UsageError("--name is required");
    const parsed = parseMetricQuery(params, Date.now());
    if (!parsed.ok) throw new UsageError(`--${parsed.error}`);
    const store = await openStoreForReading(values.config, "metrics");
    if (typeof store === "number") return store;
    try {
      const result = await new StoredMetricsReader(() => store.backend.db).query(parsed.value);
      out(values.json ? JSON.stringify(result, null, 2) + "\n" : queryText(result));
      return EXIT.ok;
    } catch (e) {
      if (e instanceof RollupQueryError) throw new UsageError(e.message);
      throw e;
    } finally {
      await store.stop();
    }
  },
};
