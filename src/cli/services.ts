/**
 * `astron-watch services [--window 5m] [--json]`: every platform service
 * heard from over OTLP, with requests per minute, error ratio and latency
 * quantiles, in total and per `func`, read from the metric rollups in the
 * store named by the config (the agent need not run).
 *
 * @module
 */

import { parseServicesQuery } from "../rollups/params.ts";
import {
  type LatencyStats,
  type ServicesResult,
  type ServiceStats,
  StoredMetricsReader,
} from "../rollups/read.ts";
import { type Command, EXIT, out, parseFlags, UsageError } from "./command.ts";
import { textTable } from "../text_table.ts";
import { openStoreForReading } from "./open_store.ts";
import { formatLatency } from "../text_time.ts";

const USAGE = `usage: astron-watch services [--window 5m] [--json]

Every platform service heard from over OTLP (otlp_receiver), with requests
per minute, the error ratio (ret other than 0 in server_request_total) and
p50/p90/p99 of server_request_time_microseconds (the platform records
milliseconds there) over the window, in total and per func. Read from the
store named by store.url in the config, without the agent.

options:
  --window D          how far back: 1m, 5m (default), 1h, 1d
  -c, --config FILE   the YAML config (default ./astron-watch.yaml if present,
                      else the built-in defaults)
  --json              print JSON, as GET /api/v1/services answers
  -h, --help          show this help

Exit codes: 0 ok, 1 the store cannot be read, 2 usage or config error.
`;

const FLAGS = {
  config: { type: "string", short: "c" },
  json: { type: "boolean" },
  window: { type: "string" },
} as const;

/** Milliseconds for a table cell. */
export const msText = formatLatency;

function row(name: string, s: ServiceStats): string[] {
  const lat = (l: LatencyStats | null, k: "p50" | "p90" | "p99") => msText(l?.[k]);
  return [
    name,
    s.requests_per_min.toFixed(1),
    String(s.errors),
    s.error_ratio === null ? "-" : `${(s.error_ratio * 100).toFixed(2)}%`,
    lat(s.latency_ms, "p50"),
    lat(s.latency_ms, "p90"),
    lat(s.latency_ms, "p99"),
    lat(s.rely_latency_ms, "p99"),
    s.concurrency === null ? "-" : String(s.concurrency),
  ];
}

/** The services summary as a table: each service, then its functions indented beneath it. */
export function servicesText(r: ServicesResult): string {
  if (!r.services.length) return "no platform services heard from (is otlp_receiver on?)\n";
  const rows: string[][] = [];
  for (const s of r.services) {
    rows.push(row(s.service || "(no service.name)", s));
    for (const f of s.funcs) rows.push(row(`  ${f.func}`, f));
  }
  const from = new Date(r.since).toISOString().replace("T", " ").slice(0, 19);
  return `window ${Math.round(r.window_seconds / 60)}m from ${from} UTC\n` +
    textTable(
      ["SERVICE / FUNC", "REQ/MIN", "ERRORS", "ERR%", "P50", "P90", "P99", "RELY P99", "CONC"],
      rows,
    );
}

/** The `services` command. */
export const servicesCommand: Command = {
  name: "services",
  summary: "platform services heard from over OTLP: requests, errors, latency",
  usage: USAGE,
  async run(argv) {
    const { values } = parseFlags(argv, FLAGS);
    if (values.help) {
      out(USAGE);
      return EXIT.ok;
    }
    const parsed = parseServicesQuery(
      values.window === undefined ? {} : { window: values.window },
      Date.now(),
    );
    if (!parsed.ok) throw new UsageError(`--${parsed.error}`);
    const store = await openStoreForReading(values.config, "services");
    if (typeof store === "number") return store;
    try {
      const result = await new StoredMetricsReader(() => store.backend.db).services(parsed.value);
      out(values.json ? JSON.stringify(result, null, 2) + "\n" : servicesText(result));
      return EXIT.ok;
    } finally {
      await store.stop();
    }
  },
};
