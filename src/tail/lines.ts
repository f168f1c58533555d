/**
 * Bytes into lines, for every reader of host logs: a partial last line waits
 * for its end, a line longer than `maxLine` is cut (and counted), and a line
 * with binary bytes (NUL, or not UTF-8) is skipped (and counted).
 *
 * @module
 */

const NL = 10;

/** Lines found in one push, and how many bytes they took (the rest waits for its newline). */
export interface SplitResult {
  lines: string[];
  /** Bytes of the input now accounted for (lines, cut tails, skipped garbage). */
  consumed: number;
}

/** Splits a byte stream into lines. One per file, since it holds a partial line. */
export class LineSplitter {
  readonly #maxLine: number;
  readonly #decoder = new TextDecoder();
  #pending: Uint8Array = new Uint8Array(0);
  /** Inside a line that was cut: drop bytes until its newline. */
  #skipping = false;
  /** Lines cut at `maxLine`. */
  cut = 0;
  /** Lines skipped for binary bytes. */
  binary = 0;

  constructor(maxLine: number) {
    this.#maxLine = maxLine;
  }

  /** Bytes held back: the start of a line not yet ended. */
  get pending(): number {
    return this.#pending.length;
  }

  /** Take the next bytes of the stream. */
  push(chunk: Uint8Array): SplitResult {
    let data = chunk;
    if (this.#pending.length) {
      data = new Uint8Array(this.#pending.length + chunk.length);
      data.set(this.#pending);
      data.set(chunk, this.#pending.length);
    }
    const before = this.#pending.length;
    let start = 0;
    const lines: string[] = [];
    if (this.#skipping) {
      const nl = data.indexOf(NL);
      if (nl < 0) {
        this.#pending = new Uint8Array(0);
        return { lines, consumed: chunk.length };
      }
      this.#skipping = false;
      start = nl + 1;
    }
    const last = data.lastIndexOf(NL);
    if (last >= start) {
      this.#decode(data.subarray(start, last), lines);
      start = last + 1;
    }
    let rest = data.subarray(start);
    if (rest.length > this.#maxLine) {
      // A character cut in half at the limit is not garbage.
      const text = this.#decoder.decode(rest.subarray(0, this.#maxLine)).replace(/\uFFFD$/, "");
      lines.push(...this.#clean(text));
      this.cut++;
      this.#skipping = true;
      rest = new Uint8Array(0);
    }
    this.#pending = rest.slice();
    return { lines, consumed: before + chunk.length - this.#pending.length };
  }

  /** The stream ended: a last line without its newline is a line. */
  end(): string[] {
    const rest = this.#pending;
    this.#pending = new Uint8Array(0);
    this.#skipping = false;
    if (!rest.length) return [];
    const lines: string[] = [];
    this.#decode(rest, lines);
    return lines;
  }

  #decode(bytes: Uint8Array, into: string[]): void {
    const text = this.#decoder.decode(bytes);
    const parts = text.split("\n");
    const suspect = text.includes("\u0000") || text.includes("\uFFFD");
    const long = bytes.length > this.#maxLine;
    for (let line of parts) {
      if (line.charCodeAt(line.length - 1) === 13) line = line.slice(0, -1);
      if (suspect && (line.includes("\u0000") || line.includes("\uFFFD"))) {
        this.binary++;
        continue;
      }
      // Characters, not bytes, past the limit: close enough for a cut, and cheap.
      if (long && line.length > this.#maxLine) {
        line = line.slice(0, this.#maxLine);
        this.cut++;
      }
      into.push(line);
    }
  }

  #clean(line: string): string[] {
    if (line.includes("\u0000") || line.includes("\uFFFD")) {
      this.binary++;
      this.cut--;
      return [];
    }
    return [line];
  }
}
