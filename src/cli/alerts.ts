/**
 * `astron-watch alerts list|history|silence|unsilence|test|export`: the
 * alerts in the store named by the config (the agent need not run; a
 * running agent takes new silences at its next evaluation), a test message
 * on one channel, and the rules as Prometheus alerting rules.
 *
 * @module
 */

import { loadConfig } from "../config/load.ts";
import { formatProblem } from "../config/reader.ts";
import type { Config } from "../config/schema.ts";
import { type Command, err, EXIT, out, parseFlags, UsageError } from "./command.ts";
import { openStoreForReading } from "./open_store.ts";
import { textTable } from "../text_table.ts";
import { parseTime } from "../query_params.ts";
import type { Store } from "../store/store.ts";
import { labelsText } from "../alerts/lifecycle.ts";

const USAGE = `usage: astron-watch alerts <subcommand> [options]

  list                       pending and firing alerts (as last saved by the agent)
  history [--since 24h]      alerts that fired and resolved
  silence MATCHER... --for 2h | --until TIME [--author NAME] [--comment TEXT]
                             silence alerts whose labels match every matcher:
                             rule=service-down  probe=~"redis.*"  service!=x
  unsilence ID               end a silence
  test CHANNEL               send a test message on a channel of alerts.channels
                             and print the receiver's answer
  export --prometheus        print the rules as Prometheus alerting rules

options:
  -c, --config FILE   the YAML config (default ./astron-watch.yaml if present)
  --json              print JSON (list, history, silence)
  -h, --help          show this help

Exit codes: 0 ok, 1 failure (store unreadable, message not delivered),
2 usage or config error.
`;

const FLAGS = {
  config: { type: "string", short: "c" },
  json: { type: "boolean" },
  since: { type: "string" },
  for: { type: "string" },
  until: { type: "string" },
  author: { type: "string" },
  comment: { type: "string" },
  prometheus: { type: "boolean" },
} as const;

const iso = (t: number | undefined | null) =>
  t === undefined || t === null ? "-" : new Date(t).toISOString().replace(/\.\d{3}Z$/, "Z");

/** The `alerts` command. */
export const alertsCommand: Command = {
  name: "alerts",
  summary: "list alerts and their history, silence them, test a channel, export to Prometheus",
  usage: USAGE,
  async run(argv) {
    const { values, positionals } = parseFlags(argv, FLAGS, true);
    if (values.help) {
      out(USAGE);
      return EXIT.ok;
    }
    const [sub, ...args] = positionals;
    switch (sub) {
      case "list":
      case "history":
        if (args.length) {
          throw new UsageError(`alerts ${sub}: unexpected ${JSON.stringify(args[0])}`);
        }
        return await withStore(
          values.config,
          (store) => sub === "list" ? list(store, values.json) : history(store, values),
        );
      case "silence":
        return await withStore(values.config, (store) => silence(store, args, values));
      case "unsilence":
        if (args.length !== 1) throw new UsageError("alerts unsilence: give one silence ID");
        return await withStore(values.config, (store) => unsilence(store, args[0]));
      case "test":
        if (args.length !== 1) throw new UsageError("alerts test: give one channel name");
        return await test(values.config, args[0]);
      case "export":
        if (!values.prometheus) {
          throw new UsageError("alerts export: --prometheus is the one format");
        }
        return await exportRules(values.config);
      case undefined:
        throw new UsageError(
          "alerts: give a subcommand (list, history, silence, unsilence, test, export)",
        );
      default:
        throw new UsageError(`alerts: unknown subcommand ${JSON.stringify(sub)}`);
    }
  },
};

async function withStore(path: string | undefined, fn: (store: Store) => Promise<number>) {
  const store = await openStoreForReading(path, "alerts");
  if (typeof store === "number") return store;
  try {
    return await fn(store);
  } finally {
    await store.stop();
  }
}

async function config(path: string | undefined): Promise<Config | number> {
  const loaded = await loadConfig({ path });
  if (!loaded.ok) {
    for (const p of loaded.problems) err(formatProblem(p));
    return EXIT.usage;
  }
  return loaded.config;
}

async function list(store: Store, json?: boolean): Promise<number> {
  const { loadInstances } = await import("../alerts/state.ts");
  const alerts = await loadInstances(store.backend.db);
  if (json) {
    out(JSON.stringify({ alerts }, null, 2) + "\n");
    return EXIT.ok;
  }
  if (!alerts.length) {
    out("no alerts pending or firing\n");
    return EXIT.ok;
  }
  const rows = alerts.map((a) => [
    a.rule,
    a.state,
    a.severity,
    labelsText(a.labels),
    a.text,
    iso(a.firing_since ?? a.active_since),
  ]);
  out(textTable(["RULE", "STATE", "SEVERITY", "LABELS", "VALUE", "SINCE"], rows));
  return EXIT.ok;
}

async function history(store: Store, values: { since?: string; json?: boolean }): Promise<number> {
  const { readHistory } = await import("../alerts/state.ts");
  const now = Date.now();
  const since = values.since === undefined ? now - 86_400_000 : parseTime(values.since, now);
  if (since === undefined) {
    throw new UsageError(`--since: ${JSON.stringify(values.since)} is not a time`);
  }
  const events = await readHistory(store.backend.db, since, 10_000);
  if (values.json) {
    out(JSON.stringify({ since: iso(since), events }, null, 2) + "\n");
    return EXIT.ok;
  }
  if (!events.length) {
    out(`no alerts fired or resolved since ${iso(since)}\n`);
    return EXIT.ok;
  }
  const rows = events.map((e) => [
    iso(e.at),
    e.event,
    e.rule,
    e.severity,
    labelsText(e.labels),
    e.text,
  ]);
  out(textTable(["AT", "EVENT", "RULE", "SEVERITY", "LABELS", "VALUE"], rows));
  return EXIT.ok;
}

async function silence(
  store: Store,
  matchers: string[],
  values: { for?: string; until?: string; author?: string; comment?: string; json?: boolean },
): Promise<number> {
  const { parseSilence } = await import("../alerts/silence_input.ts");
  const { insertSilence } = await import("../alerts/state.ts");
  if (!matchers.length) {
    throw new UsageError("alerts silence: give at least one matcher, like rule=service-down");
  }
  const parsed = parseSilence({
    matchers,
    duration: values.for,
    ends_at: values.until,
    author: values.author ?? Deno.env.get("USER") ?? "shell",
    comment: values.comment ?? "",
  }, Date.now());
  if (!parsed.ok) {
    throw new UsageError(
      `alerts silence: ${
        parsed.error.replace(/^duration:/, "--for:").replace(/^ends_at:/, "--until:")
      }`,
    );
  }
  await insertSilence(store.backend.db, parsed.silence);
  const s = parsed.silence;
  out(
    values.json ? JSON.stringify(s, null, 2) + "\n" : `silence ${s.id} until ${iso(s.ends_at)}\n`,
  );
  return EXIT.ok;
}

async function unsilence(store: Store, id: string): Promise<number> {
  const { expireSilence } = await import("../alerts/state.ts");
  if (!await expireSilence(store.backend.db, id, Date.now())) {
    err(`astron-watch alerts unsilence: no silence ${JSON.stringify(id)} in force`);
    return EXIT.failure;
  }
  out(`silence ${id} ended\n`);
  return EXIT.ok;
}

async function test(path: string | undefined, name: string): Promise<number> {
  const cfg = await config(path);
  if (typeof cfg === "number") return cfg;
  const channel = cfg.alerts.channels[name];
  if (!channel) {
    const known = Object.keys(cfg.alerts.channels);
    throw new UsageError(
      `alerts test: no channel ${JSON.stringify(name)} in alerts.channels${
        known.length ? ` (known: ${known.join(", ")})` : ""
      }`,
    );
  }
  const { deliver } = await import("../alerts/deliver.ts");
  const now = Date.now();
  const zh = cfg.alerts.language === "zh";
  const labels = { rule: "astron-watch-test", severity: "info" };
  const d = await deliver(name, channel, {
    group: { rule: "astron-watch-test", labels: {} },
    externalUrl: cfg.alerts.external_url,
    language: cfg.alerts.language,
    alerts: [{
      status: "firing",
      rule: "astron-watch-test",
      severity: "info",
      labels,
      annotations: {
        summary: zh
          ? `astron-watch 测试消息（通道 ${name}）`
          : `astron-watch test message (channel ${name})`,
        description: zh
          ? "收到此消息说明告警通道配置正确。"
          : "If you read this, the channel works.",
      },
      value: 0,
      value_text: "test",
      starts_at: now,
      link: `${cfg.alerts.external_url}/api/v1/alerts`,
      key: "astron-watch-test",
    }],
  });
  out(`${d.result}: ${d.answer}\n`);
  return d.result === "sent" ? EXIT.ok : EXIT.failure;
}

async function exportRules(path: string | undefined): Promise<number> {
  const cfg = await config(path);
  if (typeof cfg === "number") return cfg;
  const { prometheusRules } = await import("../alerts/promql.ts");
  out(prometheusRules(cfg.alerts.rules));
  return EXIT.ok;
}
