import type { Config } from "../../config/defaults.js";

/**
 * A worker's first message: it listens for its configuration now (asked for, not pushed:
 * a message sent before the worker's module has loaded would be lost).
 */
export const WORKER_WAITING = "tessera:waiting";

/**
 * What the `serve --workers` primary tells a worker over the cluster's IPC channel: the
 * configuration it loaded and checked (so every worker serves exactly it, `--port 0`
 * resolved, and no secret passes through argv or the environment).
 */
export interface StartMessage {
  type: "tessera:start";
  config: Config;
}

/** The worker's `WORKER_WAITING` message. */
export function isWaitingMessage(m: unknown): boolean {
  return typeof m === "object" && m !== null && (m as { type?: unknown }).type === WORKER_WAITING;
}

export function isStartMessage(m: unknown): m is StartMessage {
  return (
    typeof m === "object" &&
    m !== null &&
    (m as { type?: unknown }).type === "tessera:start" &&
    typeof (m as { config?: unknown }).config === "object"
  );
}
