/**
 * Test support: a TCP proxy on loopback in front of a real server, whose
 * failure mode the test sets. `pass` forwards; `hang` accepts connections
 * and never answers (a database that stopped responding); `down` refuses
 * connections (the listener is closed, the port kept). Switching away from
 * `pass` cuts the connections already forwarded.
 */

/** How the proxy treats connections. */
export type ProxyMode = "pass" | "hang" | "down";

/** A running proxy. */
export class TcpProxy {
  readonly port: number;
  readonly #target: { hostname: string; port: number };
  #listener?: Deno.Listener;
  #mode: ProxyMode = "pass";
  #open = new Set<Deno.Conn>();
  /** Connections accepted in `hang` mode and still open. */
  readonly held = new Set<Deno.Conn>();
  #accepting?: Promise<void>;
  #pumps = new Set<Promise<void>>();

  private constructor(listener: Deno.Listener, target: { hostname: string; port: number }) {
    this.#listener = listener;
    this.port = (listener.addr as Deno.NetAddr).port;
    this.#target = target;
    this.#accepting = this.#accept(listener);
  }

  /** Start a proxy on a free loopback port in front of `hostname:port`. */
  static start(target: { hostname: string; port: number }): TcpProxy {
    return new TcpProxy(Deno.listen({ hostname: "127.0.0.1", port: 0 }), target);
  }

  /** The proxy's URL for a server URL (host and port replaced). */
  url(serverUrl: string): string {
    const u = new URL(serverUrl);
    u.hostname = "127.0.0.1";
    u.port = String(this.port);
    return u.href;
  }

  get mode(): ProxyMode {
    return this.#mode;
  }

  /** Switch mode; leaving `pass` cuts forwarded connections, leaving `hang` releases held ones. */
  async set(mode: ProxyMode): Promise<void> {
    if (mode === this.#mode) return;
    const was = this.#mode;
    this.#mode = mode;
    if (was === "pass") { for (const c of this.#open) tryClose(c); }
    if (was === "hang") {
      for (const c of this.held) tryClose(c);
      this.held.clear();
    }
    if (mode === "down") {
      this.#listener?.close();
      await this.#accepting;
      this.#listener = undefined;
    } else if (!this.#listener) {
      this.#listener = Deno.listen({ hostname: "127.0.0.1", port: this.port });
      this.#accepting = this.#accept(this.#listener);
    }
  }

  /** Wait until at least `n` connections are held in `hang` mode. */
  async waitHeld(n = 1, ms = 10_000): Promise<void> {
    const until = Date.now() + ms;
    while (this.held.size < n) {
      if (Date.now() > until) throw new Error(`no connection held within ${ms} ms`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  async #accept(listener: Deno.Listener): Promise<void> {
    for (;;) {
      let conn: Deno.Conn;
      try {
        conn = await listener.accept();
      } catch {
        return; // closed
      }
      if (this.#mode === "hang") {
        this.#track(this.#hold(conn));
        continue;
      }
      this.#track(this.#forward(conn));
    }
  }

  /**
   * Read and discard what a connection sends until it closes, never
   * answering. It counts as held from its first byte: a client that only
   * checks the port opens is not waiting on anything.
   */
  async #hold(conn: Deno.Conn): Promise<void> {
    const buf = new Uint8Array(4096);
    try {
      while ((await conn.read(buf)) !== null) this.held.add(conn);
    } catch {
      // closed under us
    }
    this.held.delete(conn);
    tryClose(conn);
  }

  async #forward(conn: Deno.Conn): Promise<void> {
    let upstream: Deno.Conn;
    try {
      upstream = await Deno.connect(this.#target);
    } catch {
      tryClose(conn);
      return;
    }
    this.#open.add(conn);
    this.#open.add(upstream);
    const pipe = async (from: Deno.Conn, to: Deno.Conn) => {
      const buf = new Uint8Array(64 * 1024);
      try {
        for (;;) {
          const n = await from.read(buf);
          if (n === null) break;
          let off = 0;
          while (off < n) off += await to.write(buf.subarray(off, n));
        }
      } catch {
        // one side went away
      }
      tryClose(from);
      tryClose(to);
    };
    await Promise.all([pipe(conn, upstream), pipe(upstream, conn)]);
    this.#open.delete(conn);
    this.#open.delete(upstream);
  }

  #track(p: Promise<void>): void {
    this.#pumps.add(p);
    p.finally(() => this.#pumps.delete(p));
  }

  /** Close everything. */
  async [Symbol.asyncDispose](): Promise<void> {
    this.#listener?.close();
    await this.#accepting;
    for (const c of [...this.#open, ...this.held]) tryClose(c);
    await Promise.allSettled([...this.#pumps]);
  }
}

function tryClose(c: Deno.Conn): void {
  try {
    c.close();
  } catch {
    // already closed
  }
}
