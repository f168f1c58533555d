/**
 * Test support for alerts: an HTTP receiver on loopback that records every
 * request (and can be down, or answer what a test says), and a TCP target a
 * probe checks that a test takes down and brings back on the same port.
 */

/** One request a receiver took. */
export interface Received {
  path: string;
  search: string;
  headers: Headers;
  body: string;
  at: number;
}

/** A recording HTTP receiver; see the module doc. */
export class Receiver {
  readonly requests: Received[] = [];
  #server?: Deno.HttpServer<Deno.NetAddr>;
  #waiters: (() => void)[] = [];
  /** What to answer (default 200 `{"errcode":0,"errmsg":"ok"}`). */
  answer: (r: Received) => Response | Promise<Response> = () =>
    Response.json({ errcode: 0, errmsg: "ok" });

  constructor(readonly port: number) {}

  /** A receiver on a free port, listening. */
  static async start(): Promise<Receiver> {
    const r = new Receiver(0);
    await r.up();
    return r;
  }

  /** A receiver on a free port that does not listen yet. */
  static reserve(): Receiver {
    const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = (l.addr as Deno.NetAddr).port;
    l.close();
    return new Receiver(port);
  }

  get url(): string {
    return `http://127.0.0.1:${this.#server?.addr.port ?? this.port}`;
  }

  /** Start listening (on the same port as before). */
  up(): Promise<void> {
    return new Promise((resolve) => {
      this.#server = Deno.serve({
        hostname: "127.0.0.1",
        port: this.#server?.addr.port ?? this.port,
        onListen: () => resolve(),
      }, async (req) => {
        const url = new URL(req.url);
        const r: Received = {
          path: url.pathname,
          search: url.search,
          headers: req.headers,
          body: await req.text(),
          at: Date.now(),
        };
        this.requests.push(r);
        for (const w of this.#waiters.splice(0)) w();
        return await this.answer(r);
      });
      (this as { port: number }).port = this.#server.addr.port;
    });
  }

  /** Stop listening. */
  async down(): Promise<void> {
    await this.#server?.shutdown();
  }

  /** Wait until `pred` holds over the requests, up to `ms`. */
  async waitFor(pred: (rs: Received[]) => boolean, ms = 20_000): Promise<void> {
    const until = Date.now() + ms;
    while (!pred(this.requests)) {
      const left = until - Date.now();
      if (left <= 0) {
        throw new Error(
          `receiver: condition not met within ${ms}ms; got ${this.requests.length} requests:\n` +
            this.requests.map((r) => r.body).join("\n"),
        );
      }
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.min(left, 200));
        this.#waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  /** Request bodies parsed as JSON. */
  json<T = Record<string, unknown>>(): T[] {
    return this.requests.map((r) => JSON.parse(r.body) as T);
  }

  async close(): Promise<void> {
    await this.down().catch(() => {});
  }
}

/** A TCP port that accepts (up) or refuses (down) connections. */
export class TcpTarget {
  #listener?: Deno.Listener;
  #conns = new Map<Deno.Conn, ReturnType<typeof setTimeout>>();
  readonly port: number;

  constructor() {
    this.#listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    this.port = (this.#listener.addr as Deno.NetAddr).port;
    this.#accept(this.#listener);
  }

  get target(): string {
    return `127.0.0.1:${this.port}`;
  }

  async #accept(l: Deno.Listener): Promise<void> {
    try {
      for await (const c of l) {
        this.#conns.set(
          c,
          setTimeout(() => {
            this.#conns.delete(c);
            try {
              c.close();
            } catch { /* closed */ }
          }, 50),
        );
      }
    } catch { /* closed */ }
  }

  down(): void {
    this.#listener?.close();
    this.#listener = undefined;
  }

  up(): void {
    if (this.#listener) return;
    this.#listener = Deno.listen({ hostname: "127.0.0.1", port: this.port });
    this.#accept(this.#listener);
  }

  close(): void {
    this.down();
    for (const [c, timer] of this.#conns) {
      clearTimeout(timer);
      try {
        c.close();
      } catch { /* closed */ }
    }
    this.#conns.clear();
  }
}
