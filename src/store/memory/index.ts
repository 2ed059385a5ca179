/** The in-process backend: every record kind in a Map (tests, single-process experiments). */
export { MemoryEventLog } from "./revocations.js";
export { MemoryStore } from "./store.js";
