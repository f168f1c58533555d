/**
 * The OTLP receiver component: what a collector is to the platform's
 * services. OTLP/gRPC on `otlp_receiver.grpc_listen` (4317) and OTLP/HTTP
 * on `otlp_receiver.http_listen` (4318), both over one
 * {@linkcode OtlpIntake} that the API port's OTLP routes share. A port that
 * another process holds (a collector already running there) does not stop
 * the agent: a warning is logged, `/status` says that transport is not
 * listening, and the rest runs. Any other failure to listen (an address not
 * on this host, a privileged port) stops the start, as for the API.
 *
 * @module
 */

import type { OtlpReceiverConfig, ServerConfig } from "../config/schema.ts";
import type { Component } from "../component.ts";
import type { Config } from "../config/schema.ts";
import type { HostPort } from "../config/reader.ts";
import { formatHostPort } from "../config/reader.ts";
import type { Logger } from "../log/logger.ts";
import { errorMessage } from "../errors.ts";
import type { Store } from "../store/store.ts";
import type { MetricsSink } from "./metric_points.ts";
import { type IntakeStats, OtlpIntake } from "./intake.ts";
import type { Signal } from "./signals.ts";
import { OtlpAccess } from "./access.ts";
import { type Cidr, parseCidr } from "./cidr.ts";
import type { IsolatedGrpcReceiver } from "./grpc_isolated.ts";
import { type HttpServer, serveHttp } from "../api/http_server.ts";
import { createOtlpApp } from "../api/otlp_app.ts";

/** Options for {@linkcode OtlpReceiver}. */
export interface OtlpReceiverOptions {
  config: OtlpReceiverConfig;
  /** The server settings in force (the write token, the header and request deadlines). */
  server: () => ServerConfig;
  /** Where spans and log records go. */
  store?: Store;
  /** Where metric points go; without it they are accepted, counted and not kept. */
  sink?: MetricsSink;
  /** Each taken protobuf request, for forwarding (`Forwarder.enqueue`). */
  tee?: (signal: Signal, request: Uint8Array) => void;
  logger: Logger;
}

/** One transport's listener, for `/status`. */
export interface ListenerState {
  /** The address configured. */
  listen: string;
  /** The address bound, once listening. */
  addr?: string;
  /** Why it is not listening (`address already in use`). */
  error?: string;
  /** Set when the config turns this transport off: the setting that does. */
  off?: string;
  /** gRPC: how often its process ended by itself and was started again. */
  restarts?: number;
}

/** The receiver's state and counters, for `/status` and `/metrics`. */
export interface OtlpReceiverStats extends IntakeStats {
  enabled: boolean;
  grpc: ListenerState;
  http: ListenerState;
  allow_from: string[];
}

/** How long a stop waits for gRPC calls in flight before cutting them, ms. */
const GRPC_GRACE = 5_000;

function cidrs(texts: readonly string[]): Cidr[] {
  return texts.map((t) => parseCidr(t)).filter((c): c is Cidr => c !== undefined);
}

/** The OTLP receiver (see the module doc). */
export class OtlpReceiver implements Component {
  readonly name = "otlp_receiver";
  /** The consumer behind every OTLP transport, the API port's included. */
  readonly intake: OtlpIntake;
  readonly #options: OtlpReceiverOptions;
  #config: OtlpReceiverConfig;
  readonly #access: OtlpAccess;
  readonly #logger: Logger;
  #grpc?: IsolatedGrpcReceiver;
  #http?: HttpServer;
  #grpcState: ListenerState;
  #httpState: ListenerState;

  constructor(options: OtlpReceiverOptions) {
    this.#options = options;
    this.#config = options.config;
    this.#logger = options.logger.child({ component: "otlp_receiver" });
    this.intake = new OtlpIntake({ store: options.store, sink: options.sink, tee: options.tee });
    this.#access = new OtlpAccess({
      allowFrom: cidrs(this.#config.allow_from),
      token: () => options.server().write_token,
    });
    this.#grpcState = { listen: formatHostPort(this.#config.grpc_listen) };
    this.#httpState = { listen: formatHostPort(this.#config.http_listen) };
  }

  /** The OTLP/gRPC address bound, once listening. */
  get grpcAddr(): HostPort | undefined {
    return this.#grpc?.addr;
  }

  /** What a gRPC call sent to an HTTP port is told: where OTLP/gRPC is. */
  grpcHint(): string {
    const where = this.#grpcState.addr;
    if (where) {
      return `this port does not serve gRPC: send OTLP/gRPC to ${where} (otlp_receiver.grpc_listen)`;
    }
    if (!this.#config.enable) {
      return "this port does not serve gRPC, and the OTLP/gRPC receiver is off (otlp_receiver.enable)";
    }
    return `this port does not serve gRPC; the OTLP/gRPC receiver is not listening on ${this.#grpcState.listen}${
      this.#grpcState.off
        ? ` (off: ${this.#grpcState.off})`
        : this.#grpcState.error
        ? ` (${this.#grpcState.error})`
        : ""
    }`;
  }

  /**
   * Listen on both ports. A port in use is a warning; any other failure rejects.
   *
   * @throws {Error} naming the address, when one cannot be bound for another reason.
   */
  async start(): Promise<void> {
    if (!this.#config.enable) {
      this.#logger.info("otlp receiver off (otlp_receiver.enable)");
      return;
    }
    const config = this.#config;
    try {
      if (config.grpc) await this.#startGrpc(config);
      else this.#grpcState.off = "otlp_receiver.grpc: false";
      await this.#startHttp(config);
    } catch (err) {
      await this.stop();
      throw err;
    }
    this.#logger.info("otlp receiver listening", {
      grpc: this.#grpcState.addr ?? null,
      http: this.#httpState.addr ?? null,
      allow_from: config.allow_from,
    });
  }

  async #startGrpc(config: OtlpReceiverConfig): Promise<void> {
    // In a process of its own: Deno 2.9.6's HTTP/2 server can abort the process it runs in.
    const { serveGrpcIsolated } = await import("./grpc_isolated.ts");
    try {
      this.#grpc = await serveGrpcIsolated({
        listen: config.grpc_listen,
        maxMessage: config.max_message,
        intake: this.intake,
        access: this.#access,
        logger: this.#logger,
        graceMs: GRPC_GRACE,
      });
      this.#grpcState.addr = formatHostPort(this.#grpc.addr);
    } catch (err) {
      this.#bindFailed(this.#grpcState, "otlp_receiver.grpc_listen", err);
    }
  }

  async #startHttp(config: OtlpReceiverConfig): Promise<void> {
    const app = createOtlpApp({
      intake: this.intake,
      access: this.#access,
      maxMessage: () => this.#config.max_message,
      grpcHint: () => this.grpcHint(),
      logger: this.#logger,
    });
    const server = this.#options.server();
    try {
      this.#http = await serveHttp({
        hostname: config.http_listen.host,
        port: config.http_listen.port,
        headerTimeout: server.header_timeout,
        requestTimeout: server.request_timeout,
        onError: (err) => {
          this.#logger.error("otlp request failed", { err: errorMessage(err) });
          return new Response("internal error\n", { status: 500 });
        },
      }, (req, info) => app.fetch(req, { remoteAddr: info.remoteAddr }));
      this.#httpState.addr = formatHostPort({
        host: this.#http.addr.hostname,
        port: this.#http.addr.port,
      });
    } catch (err) {
      this.#bindFailed(this.#httpState, "otlp_receiver.http_listen", err);
    }
  }

  /** A port in use: warn and go on; anything else: throw. */
  #bindFailed(state: ListenerState, key: string, err: unknown): void {
    const inUse = (err as { code?: string }).code === "EADDRINUSE" ||
      err instanceof Deno.errors.AddrInUse;
    if (!inUse) throw new Error(`cannot listen on ${state.listen} (${key}): ${errorMessage(err)}`);
    state.error = "address already in use";
    this.#logger.warn(
      `${key} ${state.listen} is in use (another collector?): not receiving there; the agent goes on`,
      { listen: state.listen },
    );
  }

  /** Apply a reloaded config: `allow_from` at once; the other keys after a restart. */
  reload(config: Config): void {
    this.#config = { ...this.#config, allow_from: config.otlp_receiver.allow_from };
    this.#access.setAllowFrom(cidrs(config.otlp_receiver.allow_from));
  }

  /** Ready: a port held by another process is reported in `/status`, not here (see the module doc). */
  readiness(): string | undefined {
    return undefined;
  }

  /** Stop taking requests; let those in flight finish (gRPC: up to 5 s). */
  async stop(): Promise<void> {
    const grpc = this.#grpc;
    const http = this.#http;
    this.#grpc = undefined;
    this.#http = undefined;
    await Promise.all([grpc?.shutdown(GRPC_GRACE), http?.shutdown()]);
    delete this.#grpcState.addr;
    delete this.#httpState.addr;
  }

  /** The listeners and the counters. */
  stats(): OtlpReceiverStats {
    return {
      enabled: this.#config.enable,
      grpc: {
        ...this.#grpcState,
        ...(this.#grpc ? { restarts: this.#grpc.restarts() } : {}),
      },
      http: { ...this.#httpState },
      allow_from: [...this.#config.allow_from],
      ...this.intake.stats(),
    };
  }
}
