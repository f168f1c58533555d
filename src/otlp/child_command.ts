/**
 * How the agent starts its OTLP/gRPC process (`grpc_child.ts`): the command
 * line word (not listed in `--help`) and the variable holding its settings.
 * Kept apart so the command line knows the word without loading gRPC.
 *
 * @module
 */

/** The command line word that starts the OTLP/gRPC process. */
export const GRPC_CHILD_COMMAND = "otlp-grpc-child";
/** The environment variable holding its settings (JSON). */
export const CHILD_ENV = "ASTRON_WATCH_GRPC_CHILD";
