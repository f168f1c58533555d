/**
 * A throwaway nginx for tests: Debian's `nginx` binary (or
 * `ASTRON_WATCH_TEST_NGINX`), run in the foreground with a generated config
 * in a temp dir (pid, logs and temp paths all inside it) on a free loopback
 * port, serving the platform's `/nginx-health` location.
 */

import { type Availability, freePort, startDaemon, which } from "./servers.ts";

/** The variable naming an nginx binary for the tests. */
export const NGINX_VAR = "ASTRON_WATCH_TEST_NGINX";

/** Where nginx is, or why there is none. */
export function locateNginx(): Availability<string> {
  const bin = Deno.env.get(NGINX_VAR) || which("nginx", ["/usr/sbin"]);
  return bin
    ? { ok: true, value: bin }
    : { ok: false, reason: `no nginx: set ${NGINX_VAR} or apt-get install nginx` };
}

/** A running nginx; stop it with `await using`. */
export interface TestNginx extends AsyncDisposable {
  /** `http://127.0.0.1:PORT` */
  origin: string;
  port: number;
  dir: string;
}

/** Options for {@linkcode startNginx}. */
export interface StartNginxOptions {
  /** Extra `location` blocks for the server. */
  locations?: string;
}

/** Start nginx as the platform configures its health location. */
export async function startNginx(bin: string, options: StartNginxOptions = {}): Promise<TestNginx> {
  const dir = await Deno.makeTempDir({ prefix: "astron-watch-nginx-" });
  await Deno.chmod(dir, 0o755);
  const port = freePort();
  const conf = `
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log info;
events { worker_connections 128; }
http {
  access_log ${dir}/access.log;
  client_body_temp_path ${dir}/client_body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  server {
    listen 127.0.0.1:${port};
    location = /nginx-health {
      access_log off;
      default_type text/plain;
      return 200 "nginx is healthy\\n";
    }
    ${options.locations ?? ""}
  }
}
`;
  await Deno.writeTextFile(`${dir}/nginx.conf`, conf);
  const stop = await startDaemon({
    name: "nginx",
    cmd: bin,
    args: ["-p", dir, "-c", `${dir}/nginx.conf`, "-e", `${dir}/error.log`, "-g", "daemon off;"],
    port,
    dir,
    log: `${dir}/error.log`,
  });
  return { origin: `http://127.0.0.1:${port}`, port, dir, [Symbol.asyncDispose]: stop };
}
