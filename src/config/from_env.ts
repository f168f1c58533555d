/**
 * `init --from-env`: read the platform's `.env` (with its own
 * `${VAR:-default}` references) and write one probe per service it names,
 * with the health paths and timeouts of the platform's compose healthchecks
 * and its `HEALTH_CHECK_INTERVAL`. Two compose layouts are known (see
 * {@linkcode detectLayout}): the newer one publishes only nginx and MinIO on
 * the host, the older one every service. Targets keep their compose names
 * (an agent attached to the compose network) or, with `host`, point at the
 * published ports; a probe whose target only the network reaches says so in
 * a comment. Passwords stay `${VAR}` references, so no secret is copied into
 * the config (the agent reads them from its environment, e.g. the unit's
 * `EnvironmentFile`).
 *
 * @module
 */

import { expandVars } from "./load.ts";
import { parseDuration } from "./units.ts";
import { starterConfig } from "./starter.ts";

/**
 * Parse a `.env` file: `KEY=value` lines, `#` comments, `export ` prefixes,
 * single quotes (literal) and double quotes; `${VAR}` and `${VAR:-default}`
 * resolve against earlier keys of the file, then `env`.
 *
 * @returns the variables, or the first malformed line.
 */
export function parseDotEnv(
  text: string,
  env: Record<string, string> = {},
): { ok: true; vars: Record<string, string> } | { ok: false; line: number; message: string } {
  const vars: Record<string, string> = {};
  const lines = text.split(/\r?\n/);
  for (const [i, raw] of lines.entries()) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    const m = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$/.exec(line);
    if (!m) {
      return {
        ok: false,
        line: i + 1,
        message: `expected KEY=value, got ${JSON.stringify(line.slice(0, 40))}`,
      };
    }
    let value = m[2];
    if (value.startsWith("'")) {
      const end = value.indexOf("'", 1);
      vars[m[1]] = end < 0 ? value.slice(1) : value.slice(1, end);
      continue;
    }
    if (value.startsWith('"')) {
      const end = value.lastIndexOf('"');
      value = (end > 0 ? value.slice(1, end) : value.slice(1)).replace(/\\n/g, "\n").replace(
        /\\"/g,
        '"',
      );
    } else {
      value = value.replace(/\s+#.*$/, "").trim();
    }
    const expanded = expandVars(value, { ...env, ...vars });
    if ("error" in expanded) return { ok: false, line: i + 1, message: expanded.error };
    vars[m[1]] = expanded.value;
  }
  return { ok: true, vars };
}

/** The two compose layouts the platform has shipped. */
export type ComposeLayout = "new" | "old";

/** The platform commit each layout is taken from. */
export const LAYOUT_COMMIT: Record<ComposeLayout, string> = { new: "d2fbe22", old: "d0f978e" };

/** The compose network the platform's services share (its key in the compose file). */
export const COMPOSE_NETWORK = "astron-agent-network";

/** The layout a config is written for, and why it was chosen. */
export interface LayoutDecision {
  layout: ComposeLayout;
  /** In words, for the file's header: `"--layout old"`, or the variables that decided it. */
  reason: string;
}

/** Options for {@linkcode configFromEnv}. */
export interface FromEnvOptions {
  /** The `.env` path, named in the file's header. */
  source: string;
  /**
   * The host (say `127.0.0.1`) that publishes the platform's ports, for an agent outside the
   * compose network. Without it, compose service names are kept, for an agent attached to
   * {@linkcode COMPOSE_NETWORK}.
   */
  host?: string;
  /** The layout, instead of {@linkcode detectLayout}'s guess. */
  layout?: ComposeLayout;
}

/** What {@linkcode configFromEnv} wrote. */
export interface FromEnvResult {
  /** The config text; `astron-watch check` accepts it as written. */
  text: string;
  layout: LayoutDecision;
  /** The probes whose target answers only inside {@linkcode COMPOSE_NETWORK} (each has a comment saying so). */
  networkOnly: string[];
}

/**
 * The `.env` key the older layout publishes a service's port under.
 *
 * @example
 * ```ts
 * import { exposeKey } from "./from_env.ts";
 * exposeKey("core-workflow"); // "EXPOSE_CORE_WORKFLOW_PORT"
 * ```
 */
export function exposeKey(service: string): string {
  return `EXPOSE_${service.toUpperCase().replaceAll("-", "_")}_PORT`;
}

/** A core service: compose name, the `.env` key of its port, its default, a health path if it has one, and the `.env` URLs that name it. */
interface CoreService {
  name: string;
  portKey: string;
  port: number;
  health?: string;
  urlKeys: string[];
}

const CORE_SERVICES: CoreService[] = [
  {
    name: "core-agent",
    portKey: "CORE_AGENT_PORT",
    port: 17870,
    health: "/health/ready",
    urlKeys: ["AGENT_URL"],
  },
  {
    name: "core-knowledge",
    portKey: "CORE_KNOWLEDGE_PORT",
    port: 20010,
    health: "/health/ready",
    urlKeys: ["KNOWLEDGE_URL", "CHUNK_QUERY_URL"],
  },
  {
    name: "core-workflow",
    portKey: "CORE_WORKFLOW_PORT",
    port: 7880,
    health: "/health/ready",
    urlKeys: ["WORKFLOW_URL", "WORKFLOW_SSE_BASE_URL"],
  },
  { name: "core-tenant", portKey: "CORE_TENANT_PORT", port: 5052, urlKeys: ["APP_URL"] },
  { name: "core-database", portKey: "CORE_DATABASE_PORT", port: 7990, urlKeys: ["SPARK_DB_URL"] },
  { name: "core-rpa", portKey: "CORE_RPA_PORT", port: 17198, urlKeys: ["TOOL_RPA_URL"] },
  { name: "core-link", portKey: "CORE_LINK_PORT", port: 18888, urlKeys: ["TOOL_URL"] },
  { name: "core-aitools", portKey: "CORE_AITOOLS_PORT", port: 18668, urlKeys: [] },
];

/** The console services nginx proxies to; the compose file gives them no healthcheck. */
const CONSOLE_SERVICES: [string, number][] = [["console-frontend", 1881], ["console-hub", 8080]];

/** Published on the host by both layouts: the `.env` key and the container port it maps to (also its default). */
const ALWAYS_PUBLISHED: Record<string, { key: string; port: number }> = {
  nginx: { key: "EXPOSE_NGINX_PORT", port: 80 },
  minio: { key: "EXPOSE_MINIO_PORT", port: 9000 },
};

/** Services only the older layout publishes, each under {@linkcode exposeKey}. */
const OLD_LAYOUT_PUBLISHES = [
  ...CORE_SERVICES.map((s) => s.name),
  ...CONSOLE_SERVICES.map(([name]) => name),
  "postgres",
  "mysql",
  "redis",
  "kafka",
];

/** Names that resolve only inside the compose network. */
const COMPOSE_NAMES = new Set([...OLD_LAYOUT_PUBLISHES, ...Object.keys(ALWAYS_PUBLISHED)]);

/** The compose healthcheck's own timeout for `/health/ready` (`urlopen(..., timeout=5)`). */
const HEALTH_READY_TIMEOUT = "5s";

/**
 * Which layout a platform `.env` comes from. The older layout (d0f978e) published the core
 * services, console and middleware on the host, so its `.env` sets an
 * {@linkcode exposeKey} variable (`EXPOSE_CORE_WORKFLOW_PORT`, `EXPOSE_MYSQL_PORT`, ...) for them;
 * the newer one (d2fbe22) publishes only nginx and MinIO (`EXPOSE_NGINX_PORT`,
 * `EXPOSE_MINIO_PORT`) and names everything else by compose service name. Any such variable
 * with a value means old; none means new.
 *
 * @param override a layout the operator chose (`--layout`), which wins.
 */
export function detectLayout(
  vars: Record<string, string>,
  override?: ComposeLayout,
): LayoutDecision {
  if (override) return { layout: override, reason: `chosen with --layout ${override}` };
  const keys = OLD_LAYOUT_PUBLISHES.map(exposeKey).filter((k) => (vars[k] ?? "") !== "");
  if (keys.length > 0) {
    const named = keys.length > 3
      ? `${keys.slice(0, 3).join(", ")} and ${keys.length - 3} more`
      : keys.join(", ");
    return { layout: "old", reason: `detected: the .env publishes ${named}` };
  }
  const published = Object.values(ALWAYS_PUBLISHED).map((p) => p.key).filter((k) =>
    (vars[k] ?? "") !== ""
  );
  return {
    layout: "new",
    reason: `detected: the .env publishes ${
      published.length ? `only ${published.join(" and ")}` : "no port"
    } (no EXPOSE_<SERVICE>_PORT for the core services, console or middleware)`,
  };
}

/** A host and port the probe uses, and the comment it needs. */
interface Placement {
  host: string;
  port: number;
  /** Reachable only inside {@linkcode COMPOSE_NETWORK}; `note` says so and offers both ways. */
  networkOnly: boolean;
  note: string[];
}

interface ProbeText {
  name: string;
  note: string[];
  lines: string[];
  networkOnly: boolean;
  /** The compose healthcheck's own timeout applies (`/health/ready`); else `HEALTH_CHECK_TIMEOUT`. */
  healthReady?: boolean;
}

function q(v: string): string {
  return JSON.stringify(v);
}

function validPort(v: string | undefined): number | undefined {
  if (v === undefined || !/^\d{1,5}$/.test(v.trim())) return undefined;
  const n = Number(v);
  return n >= 1 && n <= 65535 ? n : undefined;
}

/** `host` as it goes before `:port` in a URL or target: IPv6 bracketed. */
function urlHost(host: string): string {
  return host.includes(":") && !host.startsWith("[") ? `[${host}]` : host;
}

/** A `.env` value naming a service: `http://core-workflow:7880/...`, `core-tenant:5052` or `redis`. */
function parseAddress(value: string | undefined): { host: string; port?: number } | undefined {
  if (!value) return undefined;
  const v = value.trim();
  if (v.includes("://")) {
    try {
      const u = new URL(v);
      if (!u.hostname) return undefined;
      return { host: u.hostname.replace(/^\[|\]$/g, ""), port: validPort(u.port) };
    } catch {
      return undefined;
    }
  }
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([A-Za-z0-9._-]+))(?::(\d{1,5}))?$/.exec(v);
  return m ? { host: m[1] ?? m[2], port: validPort(m[3]) } : undefined;
}

/** Wrap comment text at 96 columns. */
function wrap(text: string): string[] {
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(/\s+/)) {
    if (line && line.length + 1 + word.length > 96) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) lines.push(line);
  return lines;
}

/** Where a service lives by the `.env`: the host it names, and the key that named it. */
interface Named {
  host: string;
  port?: number;
  key: string;
}

/** Places probes: compose names or `--host`, published ports or the network's. */
class Placer {
  constructor(
    readonly vars: Record<string, string>,
    readonly layout: ComposeLayout,
    readonly host: string | undefined,
  ) {}

  /** The first of `keys` whose value names a host (a URL, `host:port` or a bare host). */
  named(...keys: string[]): Named | undefined {
    for (const key of keys) {
      const a = parseAddress(this.vars[key]);
      if (a) return { ...a, key };
    }
    return undefined;
  }

  /** The host port the layout publishes `service`'s container `port` on, if it does. */
  published(service: string, port: number): number | undefined {
    const always = ALWAYS_PUBLISHED[service];
    if (always) return validPort(this.vars[always.key]) ?? always.port;
    if (this.layout === "old") return validPort(this.vars[exposeKey(service)]) ?? port;
    return undefined;
  }

  /**
   * Where the agent reaches `service` on container `port`, named by the `.env` as `named`
   * (else by its compose service name). A host that is not a compose service's (an outside
   * database, an address) is kept as the `.env` gives it.
   */
  place(service: string, port: number, named?: Named): Placement {
    const host = named?.host ?? service;
    if (!COMPOSE_NAMES.has(host)) return { host, port, networkOnly: false, note: [] };
    const published = this.published(service, port);
    if (published !== undefined) {
      return this.host === undefined
        ? { host, port, networkOnly: false, note: [] }
        : { host: this.host, port: published, networkOnly: false, note: [] };
    }
    const why = `Only inside ${COMPOSE_NETWORK}: "${host}"${named ? ` (${named.key})` : ""} is a ` +
      `compose service name and the ${this.layout} layout publishes no port for it.`;
    const note = this.host === undefined
      ? `${why} Keep the name and attach the agent to that network, or publish ${port} and ` +
        `re-run init with --host H.`
      : `${why} ${urlHost(this.host)}:${port} answers once you publish it ` +
        `(ports: ["${port}:${port}"]), or drop --host and attach the agent to that network.`;
    return { host: this.host ?? host, port, networkOnly: true, note: wrap(note) };
  }
}

function httpUrl(p: Placement, path: string): string {
  return `http://${urlHost(p.host)}${p.port === 80 ? "" : `:${p.port}`}${path}`;
}

function target(p: Placement): string {
  return `${urlHost(p.host)}:${p.port}`;
}

/** The probes for the services a platform `.env` names. */
function serviceProbes(vars: Record<string, string>, at: Placer): ProbeText[] {
  const probes: ProbeText[] = [];
  const has = (key: string) => (vars[key] ?? "") !== "";
  const add = (name: string, p: Placement, lines: string[], extra: Partial<ProbeText> = {}) =>
    probes.push({ name, networkOnly: p.networkOnly, note: p.note, lines, ...extra });

  if (has("EXPOSE_NGINX_PORT")) {
    const p = at.place("nginx", ALWAYS_PUBLISHED.nginx.port);
    add("nginx", p, [
      "type: http",
      "kind: server",
      `url: ${q(httpUrl(p, "/nginx-health"))}`,
      'expect: { status: [200], body_contains: "nginx is healthy" }',
    ]);
  }
  if (has("EXPOSE_NGINX_PORT") || Object.keys(vars).some((k) => k.startsWith("CONSOLE_"))) {
    for (const [name, port] of CONSOLE_SERVICES) {
      const p = at.place(name, port);
      add(name, p, ["type: tcp", "kind: server", `target: ${q(target(p))}`], {
        note: [...p.note, "No healthcheck in the compose file: a TCP connect."],
      });
    }
  }
  for (const s of CORE_SERVICES) {
    const named = at.named(...s.urlKeys);
    if (!has(s.portKey) && !named) continue;
    // SERVICE_PORT is the core port key: it wins for a compose name; an outside URL keeps its own.
    const port = !named || COMPOSE_NAMES.has(named.host)
      ? validPort(vars[s.portKey]) ?? named?.port ?? s.port
      : named.port ?? validPort(vars[s.portKey]) ?? s.port;
    const p = at.place(s.name, port, named);
    add(
      s.name,
      p,
      s.health
        ? [
          "type: http",
          "kind: server",
          `url: ${q(httpUrl(p, s.health))}`,
          "expect: { status: [200] }",
        ]
        : ["type: tcp", "kind: server", `target: ${q(target(p))}`],
      { healthReady: s.health !== undefined },
    );
  }
  if (has("EXPOSE_MINIO_PORT")) {
    const p = at.place("minio", ALWAYS_PUBLISHED.minio.port);
    add("minio", p, [
      "type: http",
      "kind: rely",
      `url: ${q(httpUrl(p, "/minio/health/live"))}`,
      "expect: { status: [200] }",
    ]);
  }
  if (has("POSTGRES_HOST") || has("POSTGRES_PORT")) {
    const user = encodeURIComponent(vars.POSTGRES_USER || "spark");
    const db = encodeURIComponent(vars.DATABASE_POSTGRES_DATABASE || "sparkdb_manager");
    const p = at.place(
      "postgres",
      validPort(vars.POSTGRES_PORT) ?? 5432,
      at.named("POSTGRES_HOST"),
    );
    const password = has("POSTGRES_PASSWORD") ? ":${POSTGRES_PASSWORD}" : "";
    add("postgres", p, [
      "type: postgres",
      "kind: rely",
      `url: ${q(`postgres://${user}${password}@${target(p)}/${db}`)}`,
    ]);
  }
  if (has("MYSQL_HOST") || has("MYSQL_PORT")) {
    const p = at.place("mysql", validPort(vars.MYSQL_PORT) ?? 3306, at.named("MYSQL_HOST"));
    add("mysql", p, ["type: tcp", "kind: rely", `target: ${q(target(p))}`]);
  }
  if (has("REDIS_HOST") || has("REDIS_ADDR")) {
    const named = at.named("REDIS_HOST", "REDIS_ADDR");
    const addrPort = parseAddress(vars.REDIS_ADDR)?.port;
    const p = at.place("redis", validPort(vars.REDIS_PORT) ?? addrPort ?? 6379, named);
    const lines = ["type: redis", "kind: rely", `target: ${q(target(p))}`];
    if (has("REDIS_PASSWORD")) lines.push('password: "${REDIS_PASSWORD}"');
    add("redis", p, lines);
  }
  const kafkaOn = has("KAFKA_ENABLE") && !["0", "false"].includes(vars.KAFKA_ENABLE.toLowerCase());
  const kafka = kafkaOn ? parseAddress(vars.KAFKA_SERVERS?.split(",")[0]) : undefined;
  if (kafka) {
    const p = at.place("kafka", kafka.port ?? 9092, { ...kafka, key: "KAFKA_SERVERS" });
    add("kafka", p, ["type: tcp", "kind: rely", `target: ${q(target(p))}`]);
  }
  return probes;
}

/** A duration from the `.env` if it parses, else `fallback`; both as written and in ms. */
function duration(value: string | undefined, fallback: string): [string, number] {
  const ms = parseDuration(value ?? "");
  return ms && ms >= 100 ? [value!.trim(), ms] : [fallback, parseDuration(fallback)!];
}

/**
 * The config text for a platform `.env`: the starter config's sections, with one probe per
 * service named, on the `HEALTH_CHECK_INTERVAL` cadence, addressed for the compose layout (see
 * {@linkcode detectLayout}) and for where the agent runs (`host`).
 *
 * @example
 * ```ts
 * import { configFromEnv } from "./from_env.ts";
 * const r = configFromEnv({ EXPOSE_NGINX_PORT: "80", CORE_WORKFLOW_PORT: "7880" }, { source: ".env" });
 * r.layout.layout; // "new"
 * r.networkOnly; // ["console-frontend", "console-hub", "core-workflow"]
 * ```
 */
export function configFromEnv(
  vars: Record<string, string>,
  options: FromEnvOptions,
): FromEnvResult {
  const [interval, intervalMs] = duration(vars.HEALTH_CHECK_INTERVAL, "30s");
  const [checkTimeout, checkTimeoutMs] = duration(vars.HEALTH_CHECK_TIMEOUT, "10s");
  const timeout = (t: string, ms: number, why = "") =>
    ms > intervalMs ? `${interval}   # no longer than the interval` : t + why;
  const layout = detectLayout(vars, options.layout);
  const at = new Placer(vars, layout.layout, options.host);
  const probes = serviceProbes(vars, at);
  const base = starterConfig();
  const head = base.slice(0, base.indexOf("probes:"));
  const flags = [
    options.host === undefined ? "" : ` --host ${options.host}`,
    options.layout === undefined ? "" : ` --layout ${options.layout}`,
  ].join("");
  const lines = [
    "Secrets stay ${VAR} references: give the agent the platform's .env as its environment" +
    " (EnvironmentFile= in the systemd unit, --env-file for docker run).",
    "",
    `Compose layout: ${layout.layout} (${LAYOUT_COMMIT[layout.layout]}), ${layout.reason}. ` +
    (layout.layout === "new"
      ? `Only nginx and MinIO publish ports on the host; the other services answer by their` +
        ` compose names inside the network ${COMPOSE_NETWORK}.`
      : "Every service is published on the host, on its EXPOSE_<SERVICE>_PORT or else its own" +
        " port.") +
    ` --layout new|old overrides the detection.`,
    "",
    options.host === undefined
      ? `Addresses: compose service names, for an agent attached to ${COMPOSE_NETWORK}` +
        ` (docker run --network, or a service in the platform's compose project). For an agent` +
        ` on the host, re-run init with --host 127.0.0.1 to use the published ports.`
      : `Addresses: ${options.host} and the ports the layout publishes there (--host), for an` +
        ` agent outside the compose network. Without --host, init keeps the compose names, for` +
        ` an agent attached to ${COMPOSE_NETWORK}.`,
  ];
  // The command line stays on one line, to copy; the rest is wrapped.
  const source = options.source.replace(/[\r\n]/g, "?");
  let text = `# Written by "astron-watch init --from-env ${source}${flags}".\n` +
    lines.flatMap((l) => (l === "" ? [""] : wrap(l))).map((l) => `# ${l}`.trimEnd()).join("\n") +
    "\n#\n" + head;
  text += wrap(
    `Cadence from HEALTH_CHECK_INTERVAL. Timeout ${HEALTH_READY_TIMEOUT} for /health/ready, the` +
      ` compose healthcheck's own; HEALTH_CHECK_TIMEOUT for the rest. Retries 3 (the platform's` +
      ` HEALTH_CHECK_RETRIES is a start-up allowance for compose, not an alerting threshold).`,
  ).map((l) => `# ${l}\n`).join("");
  text += "probes:\n";
  for (const p of probes) {
    for (const line of p.note) text += `  # ${line}\n`;
    text += `  - name: ${p.name}\n`;
    for (const line of p.lines) text += `    ${line}\n`;
    text += `    interval: ${interval}\n`;
    text += p.healthReady
      ? `    timeout: ${
        timeout(HEALTH_READY_TIMEOUT, 5_000, "   # the compose healthcheck's own")
      }\n`
      : `    timeout: ${timeout(checkTimeout, checkTimeoutMs)}\n`;
    text += "    retries: 3\n";
  }
  const nginx = at.place("nginx", ALWAYS_PUBLISHED.nginx.port);
  text += `  # The platform's streaming route, with a flow to run (first event = "first frame"):
  # - name: workflow-stream
  #   type: sse
  #   url: ${httpUrl(nginx, "/workflow/v1/chat/completions")}
  #   headers: { Authorization: "Bearer \${WORKFLOW_API_KEY}" }
  #   body: '{"flow_id":"\${FLOW_ID}","stream":true,"parameters":{"AGENT_USER_INPUT":"ping"}}'
  #   interval: 5m
  #   timeout: 60s
  #   expect: { first_event_within: 5s }
`;
  return { text, layout, networkOnly: probes.filter((p) => p.networkOnly).map((p) => p.name) };
}
