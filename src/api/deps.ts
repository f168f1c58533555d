/**
 * What the API (and the console it serves) reads from the running agent.
 *
 * @module
 */

import type { ServerConfig } from "../config/schema.ts";
import type { Logger } from "../log/logger.ts";
import type { ProbeBoard } from "../probe/board.ts";
import type { Readiness } from "./routes/health.ts";
import type { OtlpIntake } from "../otlp/intake.ts";
import type { OtlpReceiverStats } from "../otlp/receiver.ts";
import type { MetricsReader } from "../rollups/read.ts";
import type { Store, StoreStats } from "../store/store.ts";
import type { RotatingFileSinkStats } from "../log/rotating_file_sink.ts";
import type { AlertEngine } from "../alerts/engine.ts";
import type { BackupJobs } from "../backup/jobs.ts";
import type { AccessLogs } from "../access/live.ts";
import type { ServiceLogs } from "../service_logs/live.ts";

/** What the API reads from the running agent. */
export interface ApiDeps {
  version: string;
  startedAt: number;
  /** The current server settings (tokens, body limit): re-read per request, so reloads apply. */
  server: () => ServerConfig;
  board: ProbeBoard;
  /** Each component's readiness. */
  readiness: () => Readiness[];
  /** Schedule lag of probe runs, in ms. */
  schedulerLag?: () => { p50: number | null; p99: number | null; max: number | null; runs: number };
  /** The log file and its sink's counters, for `/status`. */
  log?: () => { path: string; stats?: RotatingFileSinkStats };
  /** The store's counters, for `/status`. */
  storeStats?: () => StoreStats;
  /** The platform's metric rollups; without them `/api/v1/services` and `/api/v1/metrics/query` are not mounted. */
  metrics?: MetricsReader;
  /** The trace store; without it the trace routes are not mounted. */
  store?: Store;
  /** Where OTLP/HTTP on this port goes (counted as transport `api`); default: one over `store`. */
  otlpIntake?: OtlpIntake;
  /** What a gRPC call sent to this port is told (where the OTLP/gRPC port is). */
  grpcHint?: () => string;
  /** The OTLP receiver's state and counters, for `/status`. */
  otlpStats?: () => OtlpReceiverStats;
  /** The alert engine, when `alerts:` has rules; without it the alert routes answer empty lists and 409. */
  alerts?: () => AlertEngine | undefined;
  /** Whether `alerts:` asks for the engine: while it starts, the alert routes that need it answer 503. */
  alertsConfigured?: () => boolean;
  /** The live access logs, when `access_logs:` has entries; without them `/api/v1/access` answers 409. */
  access?: () => AccessLogs | undefined;
  /** Whether `access_logs:` has entries: while they start, `/api/v1/access` answers 503. */
  accessConfigured?: () => boolean;
  /** The live service logs, when `service_logs:` has entries (a `/status` section). */
  serviceLogs?: () => ServiceLogs | undefined;
  /** The backup jobs, when `backups:` has entries (`/api/v1/backups`, a `/status` section). */
  backups?: () => BackupJobs | undefined;
  /** The Prometheus exposition of the agent's metrics. */
  scrape: () => Promise<string>;
  logger: Logger;
}
