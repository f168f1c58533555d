/**
 * The one consumer behind every OTLP transport (gRPC, OTLP/HTTP on its own
 * port, OTLP/HTTP on the API port): spans and log records go to the trace
 * store, metric points to the metrics sink when there is one (else they are
 * counted and let go), and every request and item is counted by signal,
 * transport and outcome. The transports stay thin: they decode with
 * `signals.ts`, hand the result here, and turn the outcome (or the store's
 * error) into their protocol's answer.
 *
 * @module
 */

import type { MetricsSink } from "./metric_points.ts";
import type { Decoded, Signal } from "./signals.ts";
import { type Store, StoreFullError, StoreUnavailableError } from "../store/store.ts";

/** How a request arrived: OTLP/gRPC, OTLP/HTTP on `otlp_receiver.http_listen`, or on the API port. */
export type Transport = "grpc" | "http" | "api";

/** The outcome of one request, as counted. */
export type RequestResult =
  | "ok"
  | "partial"
  | "invalid"
  | "too_large"
  | "unauthenticated"
  | "unavailable"
  | "unsupported"
  | "error";

/** What the intake did with one request's items: the answer's partial success. */
export interface TakeResult {
  /** Items refused: at decoding, by the store, or dropped by the sink. */
  rejected: number;
  /** Why (the first reason), for the answer's `error_message`. */
  error?: string;
}

/** Options for {@linkcode OtlpIntake}. */
export interface OtlpIntakeOptions {
  /** Where spans and log records go; without it they are refused as unavailable. */
  store?: Store;
  /** Where metric points go; without it they are accepted, counted and not kept. */
  sink?: MetricsSink;
  /**
   * Called with each taken request's protobuf bytes (those that came as
   * JSON encoded to protobuf), for forwarding (`otlp_receiver.forward`);
   * must not block.
   */
  tee?: (signal: Signal, request: Uint8Array) => void;
  /** The clock (epoch ms). */
  now?: () => number;
}

/** Counters of one signal over one transport. */
export interface IntakeCounts {
  signal: Signal;
  transport: Transport;
  /** Items in requests that were taken (kept and rejected). */
  received: number;
  /** Items refused (decoding, store, sink). */
  rejected: number;
  /** Requests by outcome. */
  requests: Partial<Record<RequestResult, number>>;
}

/** The intake's counters. */
export interface IntakeStats {
  /** Whether metric points are kept (a sink is attached). */
  metrics_kept: boolean;
  counts: IntakeCounts[];
}

/** The consumer behind the OTLP transports (see the module doc). */
export class OtlpIntake {
  readonly #store?: Store;
  readonly #sink?: MetricsSink;
  readonly #now: () => number;
  readonly #tee?: (signal: Signal, request: Uint8Array) => void;
  readonly #counts = new Map<string, IntakeCounts>();

  constructor(options: OtlpIntakeOptions) {
    this.#store = options.store;
    this.#sink = options.sink;
    this.#now = options.now ?? Date.now;
    this.#tee = options.tee;
  }

  /** The clock the decoders use for items without a time (epoch ms). */
  now(): number {
    return this.#now();
  }

  /**
   * Take a decoded request: store its spans or log records, or hand its
   * metric points to the sink; count it; hand `request` (its protobuf
   * bytes, or a function that makes them, called only when forwarding) to
   * the tee.
   *
   * @returns the items refused with why, for the answer's partial success.
   * @throws {StoreUnavailableError} when the store cannot take data now (retry later).
   * @throws {StoreFullError} when the store's disk is full (retry later).
   */
  async take(
    decoded: Decoded,
    transport: Transport,
    request?: Uint8Array | (() => Uint8Array | undefined),
  ): Promise<TakeResult> {
    const counts = this.#countsOf(decoded.signal, transport);
    let rejected = decoded.rejected;
    let error = decoded.error;
    try {
      if (decoded.signal === "metrics") {
        if (this.#sink && decoded.metrics.length) {
          const { dropped } = await this.#sink.take(decoded.metrics, this.#now());
          if (dropped > 0) {
            rejected += dropped;
            error ??= `${dropped} points dropped: their series are over otlp_receiver.max_series`;
          }
        }
      } else if (decoded.spans.length) {
        if (!this.#store) throw new StoreUnavailableError("there is no trace store");
        const { refused } = await this.#store.ingestSpans(decoded.spans);
        if (refused > 0) {
          rejected += refused;
          error ??= `${refused} ${
            decoded.signal === "logs" ? "log records" : "spans"
          } refused by the database`;
        }
      }
    } catch (err) {
      const unavailable = err instanceof StoreUnavailableError || err instanceof StoreFullError;
      this.#count(counts, unavailable ? "unavailable" : "error");
      throw err;
    }
    counts.received += decoded.items + decoded.rejected;
    counts.rejected += rejected;
    this.#count(counts, rejected ? "partial" : "ok");
    const bytes = this.#tee && (typeof request === "function" ? request() : request);
    if (bytes) this.#tee!(decoded.signal, bytes);
    return { rejected, error };
  }

  /** Count a request refused before its items were taken (invalid, too large, unauthenticated ...). */
  refuse(signal: Signal, transport: Transport, result: RequestResult): void {
    this.#count(this.#countsOf(signal, transport), result);
  }

  /** The counters so far. */
  stats(): IntakeStats {
    return {
      metrics_kept: !!this.#sink,
      counts: [...this.#counts.values()].map((c) => ({ ...c, requests: { ...c.requests } })),
    };
  }

  #countsOf(signal: Signal, transport: Transport): IntakeCounts {
    const key = `${signal} ${transport}`;
    let c = this.#counts.get(key);
    if (!c) {
      c = { signal, transport, received: 0, rejected: 0, requests: {} };
      this.#counts.set(key, c);
    }
    return c;
  }

  #count(counts: IntakeCounts, result: RequestResult): void {
    counts.requests[result] = (counts.requests[result] ?? 0) + 1;
  }
}
