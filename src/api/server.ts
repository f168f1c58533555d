/**
 * The API server component: the Hono app on `Deno.serve`, graceful shutdown.
 *
 * @module
 */

import type { HostPort } from "../config/reader.ts";
import { formatHostPort } from "../config/reader.ts";
import type { Logger } from "../log/logger.ts";
import { type ApiDeps, createApp } from "./app.ts";

/** Serves the API on `listen` until stopped. */
export class ApiServer {
  readonly name = "api";
  #server?: Deno.HttpServer<Deno.NetAddr>;
  #addr?: HostPort;
  readonly #deps: ApiDeps;
  readonly #listen: HostPort;
  readonly #logger: Logger;

  constructor(listen: HostPort, deps: ApiDeps) {
    this.#listen = listen;
    this.#deps = deps;
    this.#logger = deps.logger.child({ component: "api" });
  }

  /** The address actually bound (the port is known after start, even for port 0). */
  get addr(): HostPort | undefined {
    return this.#addr;
  }

  /** Bind and serve; rejects when the address cannot be bound. */
  start(): Promise<void> {
    const app = createApp(this.#deps);
    const { host, port } = this.#listen;
    return new Promise((resolve, reject) => {
      try {
        this.#server = Deno.serve({
          hostname: host,
          port,
          onListen: (addr) => {
            this.#addr = { host: addr.hostname, port: addr.port };
            this.#logger.info("listening", { addr: formatHostPort(this.#addr) });
            resolve();
          },
          onError: (err) => {
            this.#logger.error("request failed", { err });
            return new Response("internal error\n", { status: 500 });
          },
        }, (req, info) => app.fetch(req, { remoteAddr: info.remoteAddr }));
      } catch (err) {
        const why = err instanceof Deno.errors.AddrInUse ? "address already in use" : err;
        reject(
          new Error(
            `cannot listen on ${formatHostPort(this.#listen)}: ${
              why instanceof Error ? why.message : why
            }`,
          ),
        );
      }
    });
  }

  readiness(): string | undefined {
    return this.#server ? undefined : "not listening";
  }

  /** Stop taking connections and let requests in flight finish. */
  async stop(): Promise<void> {
    await this.#server?.shutdown();
    this.#server = undefined;
  }
}
