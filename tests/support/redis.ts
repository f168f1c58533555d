/**
 * A throwaway Redis for tests: `ASTRON_WATCH_TEST_REDIS_URL`
 * (`redis://:password@host:port`) when set, else Debian's `redis-server`
 * started on a free loopback port with a password, no persistence, in the
 * foreground.
 */

import { type Availability, freePort, startDaemon, which } from "./servers.ts";

/** The variable naming an existing Redis for the tests. */
export const REDIS_URL_VAR = "ASTRON_WATCH_TEST_REDIS_URL";

/** How the tests will get a Redis. */
export type RedisSource = { url: string } | { bin: string };

/** Where a Redis can come from. */
export function locateRedis(): Availability<RedisSource> {
  const url = Deno.env.get(REDIS_URL_VAR);
  if (url) return { ok: true, value: { url } };
  const bin = which("redis-server", ["/usr/bin", "/usr/sbin"]);
  return bin ? { ok: true, value: { bin } } : {
    ok: false,
    reason: `no Redis: set ${REDIS_URL_VAR} or apt-get install redis-server`,
  };
}

/** A Redis that wants a password; stop it with `await using`. */
export interface TestRedis extends AsyncDisposable {
  /** `host:port` */
  target: string;
  password: string;
}

/** Start (or name) a Redis that requires a password. */
export async function startRedis(source: RedisSource): Promise<TestRedis> {
  if ("url" in source) {
    const u = new URL(source.url);
    return {
      target: u.host,
      password: decodeURIComponent(u.password),
      [Symbol.asyncDispose]: () => Promise.resolve(),
    };
  }
  const port = freePort();
  const password = `pw-${crypto.randomUUID().slice(0, 8)}`;
  const dir = await Deno.makeTempDir({ prefix: "astron-watch-redis-" });
  const stop = await startDaemon({
    name: "redis-server",
    cmd: source.bin,
    args: [
      "--port",
      String(port),
      "--bind",
      "127.0.0.1",
      "--requirepass",
      password,
      "--save",
      "",
      "--appendonly",
      "no",
      "--daemonize",
      "no",
      "--dir",
      dir,
      "--logfile",
      `${dir}/redis.log`,
    ],
    port,
    dir,
    log: `${dir}/redis.log`,
  });
  return { target: `127.0.0.1:${port}`, password, [Symbol.asyncDispose]: stop };
}
