/**
 * `init --from-env`: read the platform's `.env` (with its own
 * `${VAR:-default}` references) and write one probe per service it names,
 * with the health paths and ports of the platform's compose file and its
 * `HEALTH_CHECK_*` cadence. Passwords stay `${VAR}` references, so no
 * secret is copied into the config (the agent reads them from its
 * environment, e.g. the unit's `EnvironmentFile`).
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

/** Options for {@linkcode configFromEnv}. */
export interface FromEnvOptions {
  /** Put this host (say `127.0.0.1`) in place of compose service names, for hosts that publish the ports. */
  host?: string;
  /** The `.env` path, named in the file's header. */
  source: string;
}

interface ServiceProbe {
  name: string;
  lines: string[];
}

/** The platform's core services: compose name, the `.env` port key, its default, and a health path if it has one. */
const CORE_SERVICES: [string, string, number, string?][] = [
  ["core-agent", "CORE_AGENT_PORT", 17870, "/health/ready"],
  ["core-knowledge", "CORE_KNOWLEDGE_PORT", 20010, "/health/ready"],
  ["core-workflow", "CORE_WORKFLOW_PORT", 7880, "/health/ready"],
  ["core-tenant", "CORE_TENANT_PORT", 5052],
  ["core-database", "CORE_DATABASE_PORT", 7990],
  ["core-rpa", "CORE_RPA_PORT", 17198],
  ["core-link", "CORE_LINK_PORT", 18888],
  ["core-aitools", "CORE_AITOOLS_PORT", 18668],
];

function q(v: string): string {
  return JSON.stringify(v);
}

/** The probes for the services a platform `.env` names. */
function serviceProbes(vars: Record<string, string>, host?: string): ServiceProbe[] {
  const at = (name: string) => host ?? name;
  const probes: ServiceProbe[] = [];
  const has = (key: string) => vars[key] !== undefined && vars[key] !== "";
  if (has("EXPOSE_NGINX_PORT")) {
    probes.push({
      name: "nginx",
      lines: [
        "type: http",
        "kind: server",
        `url: http://127.0.0.1:${vars.EXPOSE_NGINX_PORT}/nginx-health`,
        "expect: { status: [200], body_contains: healthy }",
      ],
    });
  }
  for (const [name, key, fallback, path] of CORE_SERVICES) {
    if (!has(key)) continue;
    const port = Number(vars[key]) || fallback;
    probes.push({
      name,
      lines: path
        ? [
          "type: http",
          "kind: server",
          `url: http://${at(name)}:${port}${path}`,
          "expect: { status: [200] }",
        ]
        : ["type: tcp", "kind: server", `target: ${q(`${at(name)}:${port}`)}`],
    });
  }
  if (has("EXPOSE_MINIO_PORT")) {
    probes.push({
      name: "minio",
      lines: [
        "type: http",
        "kind: rely",
        `url: http://127.0.0.1:${vars.EXPOSE_MINIO_PORT}/minio/health/live`,
      ],
    });
  }
  if (has("POSTGRES_HOST") || has("POSTGRES_PORT")) {
    const user = encodeURIComponent(vars.POSTGRES_USER || "spark");
    const db = vars.DATABASE_POSTGRES_DATABASE || "sparkdb_manager";
    const pgHost = host ?? (vars.POSTGRES_HOST || "postgres");
    const password = has("POSTGRES_PASSWORD") ? ":${POSTGRES_PASSWORD}" : "";
    probes.push({
      name: "postgres",
      lines: [
        "type: postgres",
        "kind: rely",
        `url: ${q(`postgres://${user}${password}@${pgHost}:${vars.POSTGRES_PORT || 5432}/${db}`)}`,
      ],
    });
  }
  if (has("MYSQL_HOST") || has("MYSQL_PORT")) {
    probes.push({
      name: "mysql",
      lines: [
        "type: tcp",
        "kind: rely",
        `target: ${q(`${host ?? (vars.MYSQL_HOST || "mysql")}:${vars.MYSQL_PORT || 3306}`)}`,
      ],
    });
  }
  if (has("REDIS_HOST") || has("REDIS_ADDR")) {
    const [addrHost, addrPort] = (vars.REDIS_ADDR || "").split(":");
    const redisHost = host ?? (vars.REDIS_HOST || addrHost || "redis");
    const port = vars.REDIS_PORT || addrPort || "6379";
    const lines = ["type: redis", "kind: rely", `target: ${q(`${redisHost}:${port}`)}`];
    if (has("REDIS_PASSWORD")) lines.push('password: "${REDIS_PASSWORD}"');
    probes.push({ name: "redis", lines });
  }
  const kafkaOn = has("KAFKA_ENABLE") && !["0", "false"].includes(vars.KAFKA_ENABLE.toLowerCase());
  if (kafkaOn && has("KAFKA_SERVERS")) {
    const [first] = vars.KAFKA_SERVERS.split(",");
    const [kHost, kPort] = first.trim().split(":");
    probes.push({
      name: "kafka",
      lines: ["type: tcp", "kind: rely", `target: ${q(`${host ?? kHost}:${kPort || 9092}`)}`],
    });
  }
  return probes;
}

/**
 * The config text for a platform `.env`: the starter config's sections,
 * with one probe per service named, on the `HEALTH_CHECK_*` cadence.
 */
export function configFromEnv(vars: Record<string, string>, options: FromEnvOptions): string {
  const interval = parseDuration(vars.HEALTH_CHECK_INTERVAL ?? "")
    ? vars.HEALTH_CHECK_INTERVAL
    : "30s";
  const timeout = parseDuration(vars.HEALTH_CHECK_TIMEOUT ?? "")
    ? vars.HEALTH_CHECK_TIMEOUT
    : "10s";
  const probes = serviceProbes(vars, options.host);
  const base = starterConfig();
  const head = base.slice(0, base.indexOf("probes:"));
  let out = `# Written by "astron-watch init --from-env ${options.source}".\n` +
    `# Secrets stay \${VAR} references: give the agent the platform's .env as its environment\n` +
    `# (EnvironmentFile= in the systemd unit).\n` + head;
  out +=
    `# Cadence from HEALTH_CHECK_INTERVAL/TIMEOUT; retries 3 (the platform's HEALTH_CHECK_RETRIES\n`;
  out += `# is a start-up allowance for compose, not an alerting threshold).\n`;
  out += "probes:\n";
  for (const p of probes) {
    out += `  - name: ${p.name}\n`;
    for (const line of p.lines) out += `    ${line}\n`;
    out += `    interval: ${interval}\n    timeout: ${timeout}\n    retries: 3\n`;
  }
  out += `  # The platform's streaming route, with a flow to run (first event = "first frame"):
  # - name: workflow-stream
  #   type: sse
  #   url: http://127.0.0.1:${vars.EXPOSE_NGINX_PORT || "80"}/workflow/v1/chat/completions
  #   headers: { Authorization: "Bearer \${WORKFLOW_API_KEY}" }
  #   body: '{"flow_id":"\${FLOW_ID}","stream":true,"parameters":{"AGENT_USER_INPUT":"ping"}}'
  #   interval: 5m
  #   timeout: 60s
  #   expect: { first_event_within: 5s }
`;
  return out;
}
