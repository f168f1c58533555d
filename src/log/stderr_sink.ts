/**
 * A sink that writes each line to stderr as it comes: what the agent uses
 * before (or beside) its rotating file, and what the systemd journal reads.
 *
 * @module
 */

import type { LogLevel, LogSink } from "./logger.ts";

const encoder = new TextEncoder();

/** Writes lines to stderr at once; a closed or broken stderr is ignored, never thrown. */
export class StderrSink implements LogSink {
  #closed = false;

  write(line: string, _level: LogLevel): void {
    if (this.#closed) return;
    const bytes = encoder.encode(line);
    try {
      let off = 0;
      while (off < bytes.length) off += Deno.stderr.writeSync(bytes.subarray(off));
    } catch {
      // stderr gone (closed pipe): nothing useful to do with a log line.
    }
  }

  flush(): Promise<void> {
    return Promise.resolve();
  }

  close(): Promise<void> {
    this.#closed = true;
    return Promise.resolve();
  }
}
