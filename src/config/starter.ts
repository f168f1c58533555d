/**
 * The starter config `init` writes: every section of SPEC §3 with its
 * defaults, commented, so an operator edits rather than writes from scratch.
 *
 * @module
 */

/** Paths the starter config points at. */
export interface StarterPaths {
  /** Log directory; default `./logs`. */
  logDir?: string;
  /** Data directory for the SQLite store and blobs; default `./data`. */
  dataDir?: string;
}

/** The starter config text; it passes `astron-watch check` as it is. */
export function starterConfig(paths: StarterPaths = {}): string {
  const logDir = paths.logDir ?? "./logs";
  const dataDir = (paths.dataDir ?? "./data").replace(/\/$/, "");
  return `# astron-watch config: see the README for every key.
# \${VAR} and \${VAR:-default} are expanded from the environment.
# Check it with: astron-watch check --config <this file>

server:
  listen: 127.0.0.1:9477
  write_token: \${ASTRON_WATCH_TOKEN:-}   # Bearer token for POST routes (empty: writes refused)
  read_token: ""                         # empty: reads open on loopback only
  max_body: 16MiB
  shutdown_timeout: 10s
  header_timeout: 10s
  request_timeout: 5m

log:
  dir: ${logDir}
  file: astron-watch.log
  level: info          # debug | info | warn | error
  format: json         # json | text
  max_size: 10MB
  keep: 10
  compress: true
  flush_interval: 1s

store:
  url: sqlite:${dataDir}/astron-watch.db   # or postgres://user:pass@host:5432/db
  retention: 7d
  max_size: 2GB
  blob_dir: ${dataDir}/blobs
  inline_limit: 5KiB

otlp:                  # the OTLP_* environment variables win over this section
  enable: false
  endpoint: 127.0.0.1:4317
  service_name: astron-watch

otlp_receiver:         # the platform's services export here, as to a collector
  enable: true         # a port already taken (a collector running) is a warning, not a stop
  grpc: false                      # OTLP/gRPC is opt-in: a second process (see the README)
  grpc_listen: 127.0.0.1:4317
  http_listen: 127.0.0.1:4318
  allow_from: []       # besides loopback, e.g. [172.16.0.0/12] for the compose network;
                       # anyone else needs Authorization: Bearer <server.write_token>
  max_message: 4MiB
  max_series: 50000
  # forward: otel-collector:4317   # also pass everything on (host:port gRPC, or an http(s):// URL)
  expose_metrics: false

probes:
  - name: astron-watch
    type: http
    kind: server
    url: http://127.0.0.1:9477/healthz
    interval: 30s
    timeout: 10s
    retries: 3
    expect:
      status: [200]
  # - name: nginx
  #   type: http
  #   url: http://127.0.0.1:10080/nginx-health
  #   expect: { status: [200], body_contains: healthy, max_latency: 500ms }
  # - name: mysql
  #   type: tcp
  #   kind: rely
  #   target: 127.0.0.1:3306
`;
}
