/**
 * The persisted outbox: every alert bound for a channel is a file
 * (`<dir>/<channel>/<id>.json`, fsynced before the state that sent it is
 * saved) until the receiver takes it. Each channel delivers on its own:
 * alerts of one group that are due go as one message; a refused message
 * (4xx) is dropped and logged with the answer; a failed one (5xx, timeout,
 * no connection) waits `retry_interval`, doubling to `max_retry_interval`,
 * and is dropped only past the channel's `max_age` or when the channel holds
 * more than `outbox_limit` messages (oldest first), each drop counted.
 *
 * @module
 */

import type { ChannelConfig } from "../config/alerts.ts";
import type { Logger } from "../log/logger.ts";
import { errorMessage } from "../errors.ts";
import { writeDurably } from "../durable.ts";
import type { Notification, OutAlert } from "./message.ts";
import type { Delivery } from "./channels.ts";

/** One queued alert. */
export interface OutboxEntry {
  id: string;
  channel: string;
  /** The group (rule and group_by values) as a key, and as shown. */
  group: string;
  group_info: { rule: string; labels: Record<string, string> };
  /** Not sent before this (the group's `group_wait`), epoch ms. */
  due: number;
  created: number;
  alert: OutAlert;
}

/** One channel's counters. */
export interface ChannelStats {
  queued: number;
  sent: number;
  refused: number;
  failed: number;
  dropped: number;
  last_error?: string;
  last_sent?: number;
}

/** Sends a notification to a channel. */
export type Sender = (
  name: string,
  channel: ChannelConfig,
  n: Notification,
) => Promise<Delivery>;

/** Options for {@linkcode Outbox}. */
export interface OutboxOptions {
  dir: string;
  channels: Record<string, ChannelConfig>;
  /** Most messages kept per channel. */
  limit: number;
  language: "zh" | "en";
  externalUrl: string;
  send: Sender;
  logger: Logger;
  now?: () => number;
}

/** Most alerts in one message. */
const MAX_BUNDLE = 100;

interface Lane {
  entries: OutboxEntry[];
  stats: ChannelStats;
  wake?: () => void;
  backoff: number;
  /** No attempt before this (after a failure). */
  holdUntil: number;
  running?: Promise<void>;
}

/** The outbox; see the module doc. */
export class Outbox {
  #o: OutboxOptions;
  readonly #now: () => number;
  readonly #lanes = new Map<string, Lane>();
  #seq = 0;
  #running = false;

  constructor(options: OutboxOptions) {
    this.#o = options;
    this.#now = options.now ?? Date.now;
  }

  /** Load what an earlier run left and start delivering. */
  async start(): Promise<void> {
    await Deno.mkdir(this.#o.dir, { recursive: true });
    this.#running = true;
    for (const name of Object.keys(this.#o.channels)) this.#lane(name);
    for await (const d of Deno.readDir(this.#o.dir)) {
      if (!d.isDirectory) continue;
      const lane = this.#o.channels[d.name] ? this.#lane(d.name) : undefined;
      for await (const f of Deno.readDir(`${this.#o.dir}/${d.name}`)) {
        const path = `${this.#o.dir}/${d.name}/${f.name}`;
        if (!f.name.endsWith(".json")) {
          await Deno.remove(path).catch(() => {});
          continue;
        }
        let entry: OutboxEntry | undefined;
        try {
          entry = JSON.parse(await Deno.readTextFile(path));
        } catch (err) {
          this.#o.logger.warn("alert outbox: unreadable message dropped", {
            path,
            err: errorMessage(err),
          });
        }
        if (!lane || !entry) {
          if (entry) {
            this.#o.logger.warn("alert outbox: channel no longer configured, message dropped", {
              channel: d.name,
              rule: entry.alert.rule,
            });
          }
          await Deno.remove(path).catch(() => {});
          continue;
        }
        lane.entries.push(entry);
      }
    }
    for (const [name, lane] of this.#lanes) {
      lane.entries.sort((a, b) => a.created - b.created || a.id.localeCompare(b.id));
      lane.stats.queued = lane.entries.length;
      lane.running = this.#deliver(name, lane);
    }
  }

  /** Stop delivering; an attempt in flight ends first. */
  async stop(): Promise<void> {
    this.#running = false;
    for (const lane of this.#lanes.values()) lane.wake?.();
    await Promise.all([...this.#lanes.values()].map((l) => l.running));
  }

  /** Take new channel settings (channels added start, removed ones stop and drop what they hold). */
  async reload(options: Pick<OutboxOptions, "channels" | "limit" | "language" | "externalUrl">) {
    this.#o = { ...this.#o, ...options };
    for (const [name, lane] of this.#lanes) {
      if (options.channels[name]) continue;
      this.#lanes.delete(name);
      lane.wake?.();
      await lane.running;
      if (lane.entries.length) {
        this.#o.logger.warn("alert channel removed: its undelivered messages dropped", {
          channel: name,
          count: lane.entries.length,
        });
      }
      await Deno.remove(`${this.#o.dir}/${name}`, { recursive: true }).catch(() => {});
    }
    for (const name of Object.keys(options.channels)) {
      if (this.#lanes.has(name)) continue;
      const lane = this.#lane(name);
      if (this.#running) lane.running = this.#deliver(name, lane);
    }
  }

  /** Counters per channel. */
  stats(): Record<string, ChannelStats> {
    return Object.fromEntries([...this.#lanes].map(([n, l]) => [n, { ...l.stats }]));
  }

  /**
   * Queue alerts; resolves once each is on disk. An alert joins its group's
   * waiting message (and its `due`), else waits `groupWait`.
   */
  async enqueue(
    channel: string,
    group: { rule: string; labels: Record<string, string> },
    alerts: readonly OutAlert[],
    groupWait: number,
  ): Promise<void> {
    const lane = this.#lanes.get(channel);
    if (!lane || !alerts.length) return;
    const key = JSON.stringify([group.rule, group.labels]);
    const now = this.#now();
    const waiting = lane.entries.find((e) => e.group === key);
    const due = waiting ? waiting.due : now + groupWait;
    const dir = `${this.#o.dir}/${channel}`;
    await Deno.mkdir(dir, { recursive: true });
    for (const alert of alerts) {
      const id = `${now.toString(36)}-${(this.#seq++).toString(36).padStart(4, "0")}`;
      const entry: OutboxEntry = {
        id,
        channel,
        group: key,
        group_info: group,
        due,
        created: now,
        alert,
      };
      await writeDurably(`${dir}/${id}.json`, JSON.stringify(entry));
      lane.entries.push(entry);
    }
    while (lane.entries.length > this.#o.limit) {
      const old = lane.entries.shift()!;
      lane.stats.dropped++;
      this.#o.logger.warn("alert outbox full: oldest message dropped", {
        channel,
        rule: old.alert.rule,
        limit: this.#o.limit,
      });
      await this.#remove(channel, [old]);
    }
    lane.stats.queued = lane.entries.length;
    lane.wake?.();
  }

  #lane(name: string): Lane {
    let lane = this.#lanes.get(name);
    if (!lane) {
      lane = {
        entries: [],
        stats: { queued: 0, sent: 0, refused: 0, failed: 0, dropped: 0 },
        backoff: 0,
        holdUntil: 0,
      };
      this.#lanes.set(name, lane);
    }
    return lane;
  }

  async #deliver(name: string, lane: Lane): Promise<void> {
    while (this.#running && this.#lanes.get(name) === lane) {
      const channel = this.#o.channels[name];
      const now = this.#now();
      await this.#expire(name, lane, channel, now);
      const next = lane.entries.reduce((t, e) => Math.min(t, e.due), Infinity);
      const at = Math.max(next, lane.holdUntil);
      if (at > now) {
        await this.#sleep(lane, at === Infinity ? 60_000 : at - now);
        continue;
      }
      const first = lane.entries.find((e) => e.due <= now)!;
      const bundle = lane.entries.filter((e) => e.group === first.group && e.due <= now)
        .slice(0, MAX_BUNDLE);
      const n: Notification = {
        group: first.group_info,
        alerts: bundle.map((e) => e.alert),
        externalUrl: this.#o.externalUrl,
        language: this.#o.language,
      };
      let d: Delivery;
      try {
        d = await this.#o.send(name, channel, n);
      } catch (err) {
        d = { result: "failed", answer: errorMessage(err) };
      }
      if (d.result === "failed") {
        lane.stats.failed++;
        lane.stats.last_error = d.answer;
        lane.backoff = lane.backoff
          ? Math.min(lane.backoff * 2, channel.max_retry_interval)
          : channel.retry_interval;
        lane.holdUntil = this.#now() + lane.backoff;
        this.#o.logger.warn("alert delivery failed; will retry", {
          channel: name,
          rule: first.group_info.rule,
          answer: d.answer,
          retry_in_ms: lane.backoff,
        });
        continue;
      }
      lane.backoff = 0;
      lane.holdUntil = 0;
      if (d.result === "sent") {
        lane.stats.sent++;
        lane.stats.last_sent = this.#now();
        lane.stats.last_error = undefined;
      } else {
        lane.stats.refused++;
        lane.stats.last_error = d.answer;
        this.#o.logger.error("alert refused by the receiver; not retried", {
          channel: name,
          rule: first.group_info.rule,
          answer: d.answer,
        });
      }
      await this.#remove(name, bundle);
    }
    lane.wake = undefined;
  }

  /** Drop messages past the channel's `max_age`. */
  async #expire(name: string, lane: Lane, channel: ChannelConfig, now: number): Promise<void> {
    const old = lane.entries.filter((e) => now - e.created > channel.max_age);
    if (!old.length) return;
    lane.stats.dropped += old.length;
    this.#o.logger.error("alert messages not delivered within max_age dropped", {
      channel: name,
      count: old.length,
      max_age_ms: channel.max_age,
    });
    await this.#remove(name, old);
  }

  async #remove(name: string, entries: readonly OutboxEntry[]): Promise<void> {
    const lane = this.#lanes.get(name);
    const ids = new Set(entries.map((e) => e.id));
    if (lane) {
      lane.entries = lane.entries.filter((e) => !ids.has(e.id));
      lane.stats.queued = lane.entries.length;
    }
    for (const id of ids) {
      await Deno.remove(`${this.#o.dir}/${name}/${id}.json`).catch(() => {});
    }
  }

  #sleep(lane: Lane, ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, Math.min(ms, 60_000));
      function done() {
        clearTimeout(timer);
        lane.wake = undefined;
        resolve();
      }
      lane.wake = done;
    });
  }
}
