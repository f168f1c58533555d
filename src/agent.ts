/**
 * The agent: builds its components from the config, starts them in
 * dependency order (log, telemetry, store, otlp receiver, history, api, probes), stops them in reverse within a
 * deadline, and applies a reloaded config.
 *
 * @module
 */

import type { Config, ProbeConfig } from "./config/schema.ts";
import { type Component, lazyComponent } from "./component.ts";
import type { HostPort } from "./config/reader.ts";
import type { Logger, LogSink } from "./log/logger.ts";
import { LogComponent } from "./log/log_component.ts";
import { errorMessage } from "./errors.ts";
import { ApiServer } from "./api/server.ts";
import type { Readiness } from "./api/app.ts";
import { ProbeBoard } from "./probe/board.ts";
import { ProbeScheduler } from "./probe/scheduler.ts";
import { PROBES } from "./probe/registry.ts";
import { VERSION } from "./version.ts";
import { Telemetry } from "./metrics/telemetry.ts";
import { defaultLabels, PlatformMetrics } from "./metrics/meter.ts";
import { ProbeMetrics } from "./probe/metrics.ts";
import { createStore, type Store } from "./store/store.ts";
import { ProbeHistory } from "./store/probe_history.ts";
import { OtlpReceiver } from "./otlp/receiver.ts";
import { Forwarder } from "./otlp/forward.ts";
import { MetricRollups } from "./rollups/rollups.ts";
import { dirname } from "node:path";
import type { AlertEngine } from "./alerts/engine.ts";
import type { AccessLogs } from "./access/live.ts";
import type { ServiceLogs } from "./service_logs/live.ts";
import type { BackupJobs } from "./backup/jobs.ts";

/** The outcome of {@linkcode Agent.start}. */
export type StartResult = { ok: true } | { ok: false; component: string; error: string };

/** The outcome of {@linkcode Agent.stop}: components that missed the deadline, if any. */
export interface StopResult {
  ok: boolean;
  late: string[];
}

/** Options for {@linkcode Agent}. */
export interface AgentOptions {
  config: Config;
  logger: Logger;
  /** Where the log goes before the file is open and after it is closed (and beside it on a terminal). */
  stderr: LogSink;
}

/** The running agent. */
export class Agent {
  #config: Config;
  readonly #logger: Logger;
  readonly startedAt = Date.now();
  readonly board = new ProbeBoard();
  readonly #api: ApiServer;
  readonly #scheduler: ProbeScheduler;
  readonly telemetry: Telemetry;
  readonly store: Store;
  /** The OTLP receiver (gRPC and HTTP, as a collector); its intake also serves the API's OTLP routes. */
  readonly otlpReceiver: OtlpReceiver;
  /** Received platform metrics, by the minute. */
  readonly rollups: MetricRollups;
  /** The tee to `otlp_receiver.forward`, when set. */
  readonly forwarder?: Forwarder;
  readonly log: LogComponent;
  readonly metrics: PlatformMetrics;
  /** The alert engine, loaded when `alerts:` has rules or channels. */
  alerts?: AlertEngine;
  /** The live access logs, loaded when `access_logs:` has entries. */
  access?: AccessLogs;
  /** The live service logs, loaded when `service_logs:` has entries. */
  serviceLogs?: ServiceLogs;
  /** The backup jobs, loaded when `backups:` has entries. */
  backups?: BackupJobs;
  readonly #components: Component[];
  #started: Component[] = [];
  #starting?: Promise<StartResult>;

  constructor(options: AgentOptions) {
    this.#config = options.config;
    this.#logger = options.logger;
    this.log = new LogComponent(this.#logger, this.#config.log, options.stderr);
    this.telemetry = new Telemetry({ otlp: this.#config.otlp });
    this.#observeLog();
    this.metrics = new PlatformMetrics({
      provider: this.telemetry.meterProvider,
      labels: defaultLabels({ serverName: this.#config.otlp.service_name }),
    });
    const probeMetrics = new ProbeMetrics(this.metrics, this.board, this.telemetry.tracer);
    this.store = createStore(this.#config.store, this.#logger);
    this.#observeStore();
    this.rollups = new MetricRollups({
      store: this.store,
      logger: this.#logger,
      maxSeries: this.#config.otlp_receiver.max_series,
    });
    const receiving = this.#config.otlp_receiver;
    this.forwarder = receiving.enable && receiving.forward
      ? new Forwarder({
        upstream: receiving.forward,
        headers: receiving.forward_headers,
        dir: `${dirname(this.#config.store.blob_dir)}/forward`,
        logger: this.#logger.child({ component: "forward" }),
      })
      : undefined;
    const forwarder = this.forwarder;
    this.otlpReceiver = new OtlpReceiver({
      config: this.#config.otlp_receiver,
      server: () => this.#config.server,
      store: this.store,
      sink: this.rollups,
      tee: forwarder ? (signal, request) => forwarder.enqueue(signal, request) : undefined,
      logger: this.#logger,
    });
    this.#observeOtlp();
    this.#observeRollupsAndForward();
    const history = new ProbeHistory({
      store: this.store,
      logger: this.#logger.child({ component: "history" }),
    });
    this.#api = new ApiServer(this.#config.server.listen, {
      version: VERSION,
      startedAt: this.startedAt,
      server: () => this.#config.server,
      board: this.board,
      readiness: () => this.readiness(),
      scrape: async () => {
        const own = await this.telemetry.scrape();
        return this.#config.otlp_receiver.expose_metrics ? this.rollups.exposition(own) : own;
      },
      metrics: this.rollups,
      store: this.store,
      log: () => ({ path: this.log.path, stats: this.log.stats() }),
      storeStats: () => this.store.stats(),
      otlpIntake: this.otlpReceiver.intake,
      grpcHint: () => this.otlpReceiver.grpcHint(),
      otlpStats: () => this.otlpReceiver.stats(),
      schedulerLag: () => this.#scheduler.lag(),
      alerts: () => this.alerts,
      alertsConfigured: () => alertsWanted(this.#config),
      access: () => this.access,
      accessConfigured: () => this.#config.access_logs.length > 0,
      serviceLogs: () => this.serviceLogs,
      backups: () => this.backups,
      logger: this.#logger,
    });
    this.#scheduler = new ProbeScheduler({
      registry: PROBES,
      board: this.board,
      logger: this.#logger.child({ component: "probes" }),
      onRun: (config) => {
        const done = probeMetrics.start(config);
        return (result) => {
          done(result);
          history.record(config.name, result);
        };
      },
    });
    const probes: Component = {
      name: "probes",
      start: () => Promise.resolve(this.#scheduler.update(this.#probeConfigs(this.#config))),
      stop: () => this.#scheduler.stop(),
      reload: (config) => this.#scheduler.update(this.#probeConfigs(config)),
    };
    // The rollups and the forwarder start before the receiver and stop after
    // it, so the last requests it takes are flushed and queued.
    this.#components = [
      this.log,
      this.telemetry,
      this.store,
      this.rollups,
      ...(this.forwarder ? [this.forwarder] : []),
      this.otlpReceiver,
      history,
      this.#api,
      probes,
      this.#accessComponent(),
      this.#serviceLogsComponent(),
      this.#housekeepingComponent(),
      this.#backupsComponent(),
      this.#alertsComponent(),
    ];
    this.#observeAlerts();
    this.#observeAccess();
  }

  /** The live access logs as a component: their modules load only when `access_logs:` has entries. */
  #accessComponent(): Component {
    let histogram: import("@opentelemetry/api").Histogram | undefined;
    const load = async (config: Config) => {
      const { AccessLogs } = await import("./access/live.ts");
      const access = new AccessLogs({
        configs: config.access_logs,
        db: () => this.store.backend.db,
        logger: this.#logger.child({ component: "access_logs" }),
        onRequestTime: (route, method, status, seconds) => {
          histogram ??= this.telemetry.meterProvider.getMeter("astron-watch").createHistogram(
            "nginx_http_request_duration_seconds",
            {
              description: "nginx's $request_time, by route, method and status.",
              unit: "s",
              advice: {
                explicitBucketBoundaries: [
                  0.005,
                  0.01,
                  0.025,
                  0.05,
                  0.1,
                  0.25,
                  0.5,
                  1,
                  2.5,
                  5,
                  10,
                  30,
                  60,
                  300,
                ],
              },
            },
          );
          histogram.record(seconds, { route, method, status: String(status) });
        },
      });
      await access.start();
      this.access = access;
    };
    return lazyComponent({
      name: "access_logs",
      config: () => this.#config,
      wanted: (c) => c.access_logs.length > 0,
      load,
      current: () => this.access,
      reload: (access, c) => access.reload(c),
    });
  }

  /** Log-directory housekeeping as a component, loaded when `housekeeping:` has entries. */
  #housekeepingComponent(): Component {
    let keeper: import("./housekeeping/run.ts").Housekeeper | undefined;
    const load = async (config: Config) => {
      const { Housekeeper } = await import("./housekeeping/run.ts");
      const k = new Housekeeper({
        entries: config.housekeeping,
        dir: `${dirname(config.store.blob_dir)}/housekeeping`,
        logger: this.#logger.child({ component: "housekeeping" }),
      });
      await k.start();
      keeper = k;
      const meter = this.telemetry.meterProvider.getMeter("astron-watch");
      const freed = meter.createObservableCounter("astron_watch_housekeeping_bytes_freed", {
        description: "Bytes freed in log directories by housekeeping (deleted, or saved by gzip).",
        unit: "By",
      });
      freed.addCallback((o) => o.observe(k.stats().bytesFreed));
    };
    return lazyComponent({
      name: "housekeeping",
      config: () => this.#config,
      wanted: (c) => c.housekeeping.length > 0,
      load,
      current: () => keeper,
      reload: (k, c) => k.reload(c),
    });
  }

  /** The live service logs as a component, loaded when `service_logs:` has entries. */
  #serviceLogsComponent(): Component {
    const load = async (config: Config) => {
      const { ServiceLogs } = await import("./service_logs/live.ts");
      const logs = new ServiceLogs({
        configs: config.service_logs,
        db: () => this.store.backend.db,
        logger: this.#logger.child({ component: "service_logs" }),
      });
      await logs.start();
      this.serviceLogs = logs;
      const meter = this.telemetry.meterProvider.getMeter("astron-watch");
      const lines = meter.createObservableCounter("astron_watch_service_log_lines", {
        description: "Lines in the platform's service logs, by file and level.",
      });
      lines.addCallback((o) => {
        for (const [k, n] of logs.counters) {
          const [file, level] = k.split("|");
          o.observe(n, { file, level });
        }
      });
    };
    return lazyComponent({
      name: "service_logs",
      config: () => this.#config,
      wanted: (c) => c.service_logs.length > 0,
      load,
      current: () => this.serviceLogs,
      reload: (logs, c) => logs.reload(c),
    });
  }

  /**
   * The backup jobs as a component, loaded when `backups:` has entries;
   * with their metrics (last success, duration, size, failures per job).
   */
  #backupsComponent(): Component {
    const load = async (config: Config) => {
      const { BackupJobs } = await import("./backup/jobs.ts");
      const jobs = new BackupJobs({
        jobs: config.backups,
        logger: this.#logger.child({ component: "backups" }),
      });
      await jobs.start();
      this.backups = jobs;
      const meter = this.telemetry.meterProvider.getMeter("astron-watch");
      const last = meter.createObservableGauge(
        "astron_watch_backup_last_success_timestamp_seconds",
        {
          description: "When the job's last successful backup run ended, Unix seconds.",
        },
      );
      const duration = meter.createObservableGauge("astron_watch_backup_duration_seconds", {
        description: "How long the job's last successful backup run took.",
      });
      const size = meter.createObservableGauge("astron_watch_backup_size_bytes", {
        description: "Bytes written by the job's last successful backup run.",
      });
      const failures = meter.createObservableCounter("astron_watch_backup_failures", {
        description: "Backup runs of the job that failed (a dump, verification or copy).",
      });
      meter.addBatchObservableCallback((o) => {
        for (const v of jobs.views()) {
          const job = { job: v.name };
          const s = v.state.last_success;
          if (s) {
            o.observe(last, s.at / 1000, job);
            o.observe(duration, s.duration_ms / 1000, job);
            o.observe(size, s.size, job);
          }
          o.observe(failures, v.state.failures ?? 0, job);
        }
      }, [last, duration, size, failures]);
    };
    return lazyComponent({
      name: "backups",
      config: () => this.#config,
      wanted: (c) => c.backups.length > 0,
      load,
      current: () => this.backups,
      reload: (jobs, c) => jobs.reload(c.backups),
    });
  }

  /** The access logs' counts as `nginx_http_requests_total` and `nginx_http_response_bytes_total`. */
  #observeAccess(): void {
    const meter = this.telemetry.meterProvider.getMeter("astron-watch");
    const requests = meter.createObservableCounter("nginx_http_requests", {
      description: "Requests in nginx's access logs, by route family, method and status.",
    });
    const bytes = meter.createObservableCounter("nginx_http_response_bytes", {
      description:
        "Response body bytes in nginx's access logs ($body_bytes_sent), by route family.",
      unit: "By",
    });
    meter.addBatchObservableCallback((o) => {
      const access = this.access;
      if (!access) return;
      for (const [k, n] of access.counters.requests) {
        const [route, method, status] = k.split("|");
        o.observe(requests, n, { route, method, status });
      }
      for (const [route, n] of access.counters.bytes) o.observe(bytes, n, { route });
    }, [requests, bytes]);
  }

  /**
   * The alert engine as a component: its modules load only when `alerts:`
   * has rules or channels (at start, or at the first reload that adds them).
   */
  #alertsComponent(): Component {
    const load = async (config: Config) => {
      const { AlertEngine } = await import("./alerts/engine.ts");
      const engine = new AlertEngine({
        config,
        board: this.board,
        metrics: this.rollups,
        store: this.store,
        logDropped: () => this.log.stats()?.dropped_lines,
        backups: () => this.backups?.ages() ?? [],
        dir: `${dirname(config.store.blob_dir)}/alerts-outbox`,
        logger: this.#logger,
      });
      await engine.start();
      this.alerts = engine;
    };
    return lazyComponent({
      name: "alerts",
      config: () => this.#config,
      wanted: alertsWanted,
      load,
      current: () => this.alerts,
      reload: (engine, c) => engine.reload(c),
      readiness: () => {
        const failing = this.alerts?.stats().failing_rules ?? [];
        return failing.length
          ? `${failing.length} alert rules not evaluated (${failing[0].rule}: ${failing[0].error})`
          : undefined;
      },
    });
  }

  /** Alerts by state, rule and severity; notifications by channel and result. */
  #observeAlerts(): void {
    const meter = this.telemetry.meterProvider.getMeter("astron-watch");
    const alerts = meter.createObservableGauge("astron_watch_alerts", {
      description: "Alerts pending or firing, by state, rule and severity.",
    });
    const notifications = meter.createObservableCounter("astron_watch_notifications", {
      description:
        "Alert notifications by channel and result (sent, refused, failed attempt, dropped).",
    });
    const queued = meter.createObservableGauge("astron_watch_notifications_queued", {
      description: "Alert notifications waiting in the outbox, by channel.",
    });
    meter.addBatchObservableCallback((o) => {
      const engine = this.alerts;
      if (!engine) return;
      const counts = new Map<
        string,
        { state: string; rule: string; severity: string; n: number }
      >();
      for (const rule of this.#config.alerts.rules) {
        for (const state of ["pending", "firing"]) {
          counts.set(`${state}|${rule.name}`, {
            state,
            rule: rule.name,
            severity: rule.severity,
            n: 0,
          });
        }
      }
      for (const a of engine.alerts()) {
        const c = counts.get(`${a.state}|${a.rule}`);
        if (c) c.n++;
      }
      for (const c of counts.values()) {
        o.observe(alerts, c.n, { state: c.state, rule: c.rule, severity: c.severity });
      }
      for (const [channel, s] of Object.entries(engine.stats().channels)) {
        o.observe(notifications, s.sent, { channel, result: "sent" });
        o.observe(notifications, s.refused, { channel, result: "refused" });
        o.observe(notifications, s.failed, { channel, result: "failed_attempt" });
        o.observe(notifications, s.dropped, { channel, result: "dropped" });
        o.observe(queued, s.queued, { channel });
      }
    }, [alerts, notifications, queued]);
  }

  /** The config in force. */
  get config(): Config {
    return this.#config;
  }

  /** The address the API is bound to, once started. */
  get apiAddr(): HostPort | undefined {
    return this.#api.addr;
  }

  /** Start every component in order; on a failure, stop the ones started and report which failed. */
  start(): Promise<StartResult> {
    this.#starting ??= this.#start();
    return this.#starting;
  }

  async #start(): Promise<StartResult> {
    for (const component of this.#components) {
      try {
        await component.start();
        this.#started.push(component);
      } catch (err) {
        await this.#stopStarted(this.#config.server.shutdown_timeout);
        return { ok: false, component: component.name, error: errorMessage(err) };
      }
    }
    this.#logger.info("started", {
      version: VERSION,
      probes: this.#config.probes.length,
      pid: Deno.pid,
    });
    return { ok: true };
  }

  /**
   * Stop the started components in reverse order (after a start in progress
   * has finished); give up waiting after `deadlineMs`.
   */
  async stop(deadlineMs: number): Promise<StopResult> {
    await this.#starting;
    return await this.#stopStarted(deadlineMs);
  }

  async #stopStarted(deadlineMs: number): Promise<StopResult> {
    const late: string[] = [];
    const until = Date.now() + deadlineMs;
    for (const component of this.#started.reverse()) {
      const left = Math.max(0, until - Date.now());
      let timer: ReturnType<typeof setTimeout> | undefined;
      const timedOut = new Promise<"late">((resolve) =>
        timer = setTimeout(() => resolve("late"), left)
      );
      try {
        const outcome = await Promise.race([
          component.stop().then(() => "done" as const),
          timedOut,
        ]);
        if (outcome === "late") late.push(component.name);
      } catch (err) {
        this.#logger.error("stop failed", { component: component.name, err: errorMessage(err) });
      } finally {
        clearTimeout(timer);
      }
    }
    this.#started = [];
    return { ok: late.length === 0, late };
  }

  /**
   * Apply a new validated config to every component that can take it. The
   * log component goes first (it is the one that can fail: a new directory);
   * when a component refuses, the config in force stays as it was. Sections
   * read only at start (`server.listen`, `store`, `otlp`) are kept, with a
   * warning, until the next restart; of `otlp_receiver`, only `allow_from` applies at once.
   */
  async reload(config: Config): Promise<void> {
    const old = this.#config;
    const kept = {
      ...config,
      server: { ...config.server, listen: old.server.listen },
      store: old.store,
      otlp: old.otlp,
      otlp_receiver: { ...old.otlp_receiver, allow_from: config.otlp_receiver.allow_from },
    };
    const differs = (a: unknown, b: unknown) => JSON.stringify(a) !== JSON.stringify(b);
    if (differs(config.server.listen, old.server.listen)) this.#restartNeeded("server.listen");
    if (differs(config.store, old.store)) this.#restartNeeded("store");
    if (differs(config.otlp, old.otlp)) this.#restartNeeded("otlp");
    if (
      differs({ ...config.otlp_receiver, allow_from: [] }, { ...old.otlp_receiver, allow_from: [] })
    ) {
      this.#restartNeeded("otlp_receiver (other than allow_from)");
    }
    for (const component of this.#started) await component.reload?.(kept);
    this.#config = kept;
  }

  #restartNeeded(section: string): void {
    this.#logger.warn(`${section} changed: takes effect after a restart`);
  }

  /** Every component's readiness. */
  readiness(): Readiness[] {
    return this.#components.map((c) => {
      const started = this.#started.includes(c);
      const reason = started ? c.readiness?.() : "not started";
      return { component: c.name, ready: reason === undefined, reason };
    });
  }

  /** The log sink's counters as metrics: dropped lines and write errors. */
  #observeLog(): void {
    const meter = this.telemetry.meterProvider.getMeter("astron-watch");
    const dropped = meter.createObservableCounter("astron_watch_log_dropped_lines", {
      description: "Log lines dropped because the disk was slow, full or failing.",
    });
    const errors = meter.createObservableCounter("astron_watch_log_write_errors", {
      description: "Failed log writes, opens and rotations.",
    });
    meter.addBatchObservableCallback((o) => {
      const s = this.log.stats();
      if (!s) return;
      o.observe(dropped, s.dropped_lines);
      o.observe(errors, s.write_errors);
    }, [dropped, errors]);
  }

  /** The store's state and counters as metrics, so an outage, a full disk or a dead letter shows. */
  #observeStore(): void {
    const meter = this.telemetry.meterProvider.getMeter("astron-watch");
    const up = meter.createObservableGauge("astron_watch_store_up", {
      description: "1 while the trace store's database answers and its schema is current.",
    });
    const full = meter.createObservableGauge("astron_watch_store_disk_full", {
      description: "1 while writes are refused because the disk under the store is full.",
    });
    const spooled = meter.createObservableGauge("astron_watch_store_spooled_records", {
      description: "Accepted records waiting in the outage spool for the database.",
    });
    const dead = meter.createObservableGauge("astron_watch_store_dead_letter_records", {
      description: "Records the database refused, kept in the dead-letter file.",
    });
    const records = meter.createObservableCounter("astron_watch_ingest_records", {
      description: "Records posted to the store, by outcome.",
    });
    const failures = meter.createObservableCounter("astron_watch_store_write_failures", {
      description: "Failed database writes, by cause.",
    });
    meter.addBatchObservableCallback((o) => {
      const s = this.store.stats();
      o.observe(up, s.up ? 1 : 0);
      o.observe(full, s.full ? 1 : 0);
      o.observe(spooled, s.spooled);
      o.observe(dead, s.dead_letters);
      for (const [result, n] of Object.entries(s.records)) o.observe(records, n, { result });
      for (const [cause, n] of Object.entries(s.write_failures)) {
        o.observe(failures, n, { cause });
      }
    }, [up, full, spooled, dead, records, failures]);
  }

  /**
   * The OTLP receiver's counters as metrics: requests by signal, transport
   * and result; items received and rejected; whether each port listens.
   */
  /** Received-metric series and dropped points; the forwarding queue and its outcomes. */
  #observeRollupsAndForward(): void {
    const meter = this.telemetry.meterProvider.getMeter("astron-watch");
    const series = meter.createObservableGauge("astron_watch_rollup_series", {
      description: "Received platform metric series held in memory (otlp_receiver.max_series).",
    });
    const points = meter.createObservableCounter("astron_watch_rollup_points", {
      description: "Received metric points, by result (taken, dropped past the series limit).",
    });
    const queued = meter.createObservableGauge("astron_watch_otlp_forward_queued", {
      description: "OTLP requests waiting in the forwarding queue.",
    });
    const forwarded = meter.createObservableCounter("astron_watch_otlp_forward_requests", {
      description:
        "OTLP requests teed upstream, by result (sent, dropped, refused, failed attempt).",
    });
    meter.addBatchObservableCallback((o) => {
      const r = this.rollups.stats();
      o.observe(series, r.series);
      o.observe(points, r.points_taken, { result: "taken" });
      o.observe(points, r.points_dropped, { result: "dropped" });
      const f = this.forwarder?.stats();
      if (!f) return;
      o.observe(queued, f.queued);
      o.observe(forwarded, f.sent, { result: "sent" });
      o.observe(forwarded, f.dropped, { result: "dropped" });
      o.observe(forwarded, f.refused, { result: "refused" });
      o.observe(forwarded, f.failures, { result: "failed_attempt" });
    }, [series, points, queued, forwarded]);
  }

  #observeOtlp(): void {
    const meter = this.telemetry.meterProvider.getMeter("astron-watch");
    const requests = meter.createObservableCounter("astron_watch_otlp_requests", {
      description: "OTLP export requests, by signal, transport (grpc, http, api) and result.",
    });
    const received = meter.createObservableCounter("astron_watch_otlp_received", {
      description:
        "Spans, metric points and log records received over OTLP, by signal and transport.",
    });
    const rejected = meter.createObservableCounter("astron_watch_otlp_rejected", {
      description:
        "Received items refused (malformed, refused by the store, over the series limit).",
    });
    const listening = meter.createObservableGauge("astron_watch_otlp_listening", {
      description: "1 while the OTLP receiver listens on the transport's port (grpc, http).",
    });
    meter.addBatchObservableCallback((o) => {
      const s = this.otlpReceiver.stats();
      for (const c of s.counts) {
        const labels = { signal: c.signal, transport: c.transport };
        o.observe(received, c.received, labels);
        o.observe(rejected, c.rejected, labels);
        for (const [result, n] of Object.entries(c.requests)) {
          o.observe(requests, n ?? 0, { ...labels, result });
        }
      }
      if (s.enabled) {
        o.observe(listening, s.grpc.addr ? 1 : 0, { transport: "grpc" });
        o.observe(listening, s.http.addr ? 1 : 0, { transport: "http" });
      }
    }, [requests, received, rejected, listening]);
  }

  /** The probes to run: the default self-probe (URL port 0) points at the port actually bound. */
  #probeConfigs(config: Config): ProbeConfig[] {
    const port = this.#api.addr?.port;
    return config.probes.map((p) => {
      if (!p.url || port === undefined) return p;
      const url = new URL(p.url);
      if (url.port !== "0") return p;
      url.port = String(port);
      return { ...p, url: url.href };
    });
  }
}

/** Whether the config asks for the alert engine: rules, or channels to test. */
function alertsWanted(c: Config): boolean {
  return c.alerts.rules.length > 0 || Object.keys(c.alerts.channels).length > 0;
}
