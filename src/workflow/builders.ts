/**
 * Builders for the platform's workflow records, for Deno/TypeScript services
 * that produce them: a `WorkflowLog` with its `NodeLog`s in the exact shape
 * astron-agent uploads (`reference/astron-facts.md`), ready to post to
 * `POST /api/v1/traces`.
 *
 * The rules the platform follows are kept here: times in epoch
 * milliseconds; the run's `usage` is the sum of its nodes'; the run's
 * `first_frame_duration` is the start of the first `message` or `node-end`
 * node minus the run's start; a node's `logs` are JSON strings
 * `{"level","message","time":"YYYY-mm-dd HH:MM:SS"}`; an error log sets
 * `running_status` to false.
 *
 * @example
 * ```ts
 * const run = new WorkflowLogBuilder({ sid: "spf0001", app_id: "app1", uid: "u1", question: "你好" });
 * const llm = run.node({ node_id: "llm::a1", node_name: "大模型" });
 * llm.info("calling the model").usage({ prompt_tokens: 12, completion_tokens: 30, total_tokens: 42 });
 * llm.end({ output: { text: "你好！" } });
 * const end = run.node({ node_id: "node-end::z9" });
 * llm.next(end);
 * end.end();
 * const record = run.finish({ answer: "你好！" });
 * ```
 *
 * @module
 */

import type { NodeLog, Usage, WorkflowRecord } from "./record.ts";

export type { NodeLog, Usage, WorkflowRecord };

const USAGE_KEYS = [
  "question_tokens",
  "prompt_tokens",
  "completion_tokens",
  "total_tokens",
] as const;

/** The platform's log time: local `YYYY-mm-dd HH:MM:SS`. */
function logTime(ms: number): string {
  const d = new Date(ms);
  const p = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${
    p(d.getMinutes())
  }:${p(d.getSeconds())}`;
}

/** What a run starts with. */
export interface WorkflowLogInit {
  sid: string;
  app_id?: string;
  uid?: string;
  chat_id?: string;
  question?: string;
  /** Epoch ms; default now. */
  start_time?: number;
  /** Any other field of the platform's record (`service_id`, `caller`, `srv`, ...). */
  [field: string]: unknown;
}

/** What a node starts with; `node_type` defaults to the part of `node_id` before `:`. */
export interface NodeLogInit {
  node_id: string;
  node_type?: string;
  node_name?: string;
  func_id?: string;
  func_name?: string;
  func_type?: string;
  /** Epoch ms; default now. */
  start_time?: number;
  input?: Record<string, unknown>;
  config?: Record<string, unknown>;
}

/** Builds one node log. */
export class NodeLogBuilder {
  readonly log: NodeLog;
  readonly #clock: () => number;

  /** @internal made by {@linkcode WorkflowLogBuilder.node}. */
  constructor(sid: string, init: NodeLogInit, clock: () => number) {
    this.#clock = clock;
    const start = init.start_time ?? clock();
    this.log = {
      id: crypto.randomUUID().replaceAll("-", ""),
      sid,
      node_id: init.node_id,
      node_type: init.node_type ?? init.node_id.split(":")[0],
      node_name: init.node_name ?? "",
      func_id: init.func_id ?? "",
      func_name: init.func_name ?? "",
      func_type: init.func_type ?? "",
      next_log_ids: [],
      start_time: start,
      end_time: start,
      duration: 0,
      first_frame_duration: -1,
      node_first_cost_time: -1,
      llm_output: "",
      running_status: true,
      data: { input: init.input ?? {}, output: {}, config: init.config ?? {}, usage: {} },
      logs: [],
    };
  }

  /** Add an `INFO` log line. */
  info(message: string): this {
    return this.#addLog("INFO", message);
  }

  /** Add an `ERROR` log line; the node's `running_status` becomes false. */
  error(message: string): this {
    this.log.running_status = false;
    return this.#addLog("ERROR", message);
  }

  /** Record the node's token usage. */
  usage(usage: Usage): this {
    this.log.data!.usage = { ...usage };
    return this;
  }

  /** Record the time to this node's first output (ms since its start). */
  firstFrame(atMs = this.#clock()): this {
    this.log.first_frame_duration = atMs - this.log.start_time!;
    this.log.node_first_cost_time = this.log.first_frame_duration;
    return this;
  }

  /** Say which node runs after this one (the execution graph). */
  next(node: NodeLogBuilder): this {
    if (!this.log.next_log_ids!.includes(node.log.id)) this.log.next_log_ids!.push(node.log.id);
    return this;
  }

  /** Close the node with its output. */
  end(
    result: { output?: Record<string, unknown>; llm_output?: string; end_time?: number } = {},
  ): this {
    const end = result.end_time ?? this.#clock();
    this.log.end_time = end;
    this.log.duration = end - this.log.start_time!;
    if (result.output) this.log.data!.output = result.output;
    if (result.llm_output !== undefined) this.log.llm_output = result.llm_output;
    return this;
  }

  #addLog(level: "INFO" | "ERROR", message: string): this {
    this.log.logs!.push(JSON.stringify({ level, message, time: logTime(this.#clock()) }));
    return this;
  }
}

/** Builds one workflow run record. */
export class WorkflowLogBuilder {
  readonly #init: WorkflowLogInit;
  readonly #start: number;
  readonly #clock: () => number;
  readonly #nodes: NodeLogBuilder[] = [];

  /**
   * @param init the run's identity and question.
   * @param clock where "now" comes from (epoch ms); default `Date.now`.
   */
  constructor(init: WorkflowLogInit, clock: () => number = Date.now) {
    this.#init = init;
    this.#clock = clock;
    this.#start = init.start_time ?? clock();
  }

  /** Start a node of this run. */
  node(init: NodeLogInit): NodeLogBuilder {
    const node = new NodeLogBuilder(this.#init.sid, init, this.#clock);
    this.#nodes.push(node);
    return node;
  }

  /** Close the run: its answer and status; usage and first frame are derived from the nodes. */
  finish(
    result: { answer?: string; code?: number; message?: string; end_time?: number } = {},
  ): WorkflowRecord {
    const end = result.end_time ?? this.#clock();
    const trace = this.#nodes.map((n) => n.log);
    const usage: Usage = {};
    for (const key of USAGE_KEYS) {
      const sum = trace.reduce((n, t) => n + (t.data?.usage?.[key] ?? 0), 0);
      usage[key] = sum;
    }
    const first = trace
      .filter((t) => t.node_type === "message" || t.node_type === "node-end")
      .reduce<number | undefined>(
        (m, t) => m === undefined || t.start_time! < m ? t.start_time : m,
        undefined,
      );
    const { start_time: _s, ...rest } = this.#init;
    return {
      app_id: "",
      uid: "",
      chat_id: "",
      question: "",
      ...rest,
      sid: this.#init.sid,
      answer: result.answer ?? "",
      start_time: this.#start,
      end_time: end,
      duration: end - this.#start,
      first_frame_duration: first === undefined ? -1 : first - this.#start,
      status: { code: result.code ?? 0, message: result.message ?? "success" },
      usage,
      version: "v2.0.0",
      trace,
    };
  }
}
