/**
 * gRPC status codes and the `google.rpc.Status` message OTLP/HTTP answers
 * its failures with (`{ code, message }`: protobuf for a protobuf request,
 * JSON for a JSON one), and the codes matching HTTP statuses.
 *
 * @module
 */

/** The gRPC status codes the receiver answers with. */
export const GrpcStatus = {
  OK: 0,
  INVALID_ARGUMENT: 3,
  NOT_FOUND: 5,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  UNAUTHENTICATED: 16,
} as const;

/** The gRPC code for an HTTP error status (as the OTLP/HTTP spec pairs them). */
export function grpcCodeOf(httpStatus: number): number {
  switch (httpStatus) {
    case 400:
    case 415:
      return GrpcStatus.INVALID_ARGUMENT;
    case 401:
      return GrpcStatus.UNAUTHENTICATED;
    case 403:
      return GrpcStatus.PERMISSION_DENIED;
    case 404:
      return GrpcStatus.NOT_FOUND;
    case 405:
      return GrpcStatus.UNIMPLEMENTED;
    case 413:
    case 429:
      return GrpcStatus.RESOURCE_EXHAUSTED;
    case 502:
    case 503:
    case 504:
    case 507:
      return GrpcStatus.UNAVAILABLE;
    default:
      return GrpcStatus.INTERNAL;
  }
}

/**
 * A `google.rpc.Status` in protobuf: `code` (field 1, varint) and `message`
 * (field 2, string); no details. The message has two scalar fields, so it
 * is written here rather than through a generated type the OTLP package
 * does not ship.
 */
export function encodeStatus(code: number, message: string): Uint8Array<ArrayBuffer> {
  const text = new TextEncoder().encode(message);
  const out: number[] = [];
  const varint = (n: number) => {
    while (n > 0x7f) {
      out.push((n & 0x7f) | 0x80);
      n = Math.floor(n / 128);
    }
    out.push(n);
  };
  if (code) {
    out.push(0x08);
    varint(code);
  }
  if (text.length) {
    out.push(0x12);
    varint(text.length);
  }
  const bytes = new Uint8Array(out.length + text.length);
  bytes.set(out);
  bytes.set(text, out.length);
  return bytes;
}

/** A `google.rpc.Status` in OTLP JSON. */
export function statusJson(code: number, message: string): Record<string, unknown> {
  return { code, message, details: [] };
}

/**
 * `message` as a `grpc-message` header value: percent-encoded outside
 * printable ASCII and for `%` (gRPC over HTTP/2).
 */
export function grpcMessage(message: string): string {
  let out = "";
  for (const byte of new TextEncoder().encode(message)) {
    out += byte >= 0x20 && byte <= 0x7e && byte !== 0x25
      ? String.fromCharCode(byte)
      : `%${byte.toString(16).toUpperCase().padStart(2, "0")}`;
  }
  return out;
}
