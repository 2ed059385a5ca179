import type { Redis } from "ioredis";
import {
  LUA_COUNTER_GET,
  LUA_COUNTER_RELEASE,
  LUA_COUNTER_UNDO,
  LUA_HIT,
  LUA_HIT_CHAIN,
} from "./lua/counters.js";
import { LUA_FINISH_RESTORE, LUA_GUARDED_APPEND } from "./lua/generation.js";
import {
  LUA_CONSUME,
  LUA_DESTROY,
  LUA_DESTROY_BY_CLIENT,
  LUA_DESTROY_BY_USER,
  LUA_PRUNE_INDEX,
  LUA_PURGE,
  LUA_UPDATE,
  LUA_UPSERT,
} from "./lua/records.js";

type Reply = string | number | null;

/**
 * The scripts, as ioredis `defineCommand` adds them to the client. Most take one key; those
 * in `VARIADIC` take any number, counted by their first argument (`numkeys`, as EVALSHA).
 */
export interface ScriptCommands {
  tesseraUpsert(key: string, ...argv: string[]): Promise<number>;
  tesseraUpdate(key: string, ...argv: string[]): Promise<number>;
  tesseraConsume(key: string, ...argv: string[]): Promise<string[] | null>;
  tesseraPurge(key: string, ...argv: string[]): Promise<number>;
  tesseraDestroy(key: string, ...argv: string[]): Promise<number>;
  tesseraDestroyByUser(key: string, ...argv: string[]): Promise<number>;
  tesseraDestroyByClient(key: string, ...argv: string[]): Promise<number>;
  tesseraPruneIndex(key: string, ...argv: string[]): Promise<number>;
  tesseraHit(key: string, ...argv: string[]): Promise<[Reply, Reply]>;
  tesseraCounterGet(key: string, ...argv: string[]): Promise<[Reply, Reply] | null>;
  tesseraCounterUndo(key: string, ...argv: string[]): Promise<number>;
  tesseraHitChain(numkeys: number, ...keysThenArgv: string[]): Promise<Reply[]>;
  tesseraCounterRelease(numkeys: number, ...keysThenArgv: string[]): Promise<number>;
  tesseraGuardedAppend(key: string, ...argv: string[]): Promise<string | null>;
  tesseraFinishRestore(key: string, ...argv: string[]): Promise<string | null>;
}

export const SCRIPTS: Record<keyof ScriptCommands, string> = {
  tesseraUpsert: LUA_UPSERT,
  tesseraUpdate: LUA_UPDATE,
  tesseraConsume: LUA_CONSUME,
  tesseraPurge: LUA_PURGE,
  tesseraDestroy: LUA_DESTROY,
  tesseraDestroyByUser: LUA_DESTROY_BY_USER,
  tesseraDestroyByClient: LUA_DESTROY_BY_CLIENT,
  tesseraPruneIndex: LUA_PRUNE_INDEX,
  tesseraHit: LUA_HIT,
  tesseraCounterGet: LUA_COUNTER_GET,
  tesseraCounterUndo: LUA_COUNTER_UNDO,
  tesseraHitChain: LUA_HIT_CHAIN,
  tesseraCounterRelease: LUA_COUNTER_RELEASE,
  tesseraGuardedAppend: LUA_GUARDED_APPEND,
  tesseraFinishRestore: LUA_FINISH_RESTORE,
};

/** The scripts whose keys are counted by their caller. */
export const VARIADIC: ReadonlySet<keyof ScriptCommands> = new Set([
  "tesseraHitChain",
  "tesseraCounterRelease",
]);

/** What ioredis's `scripts` option takes: `numberOfKeys` 1, or left to the caller. */
export function scriptDefinitions(): Record<string, { lua: string; numberOfKeys?: number }> {
  return Object.fromEntries(
    Object.entries(SCRIPTS).map(([name, lua]) => [
      name,
      VARIADIC.has(name as keyof ScriptCommands) ? { lua } : { lua, numberOfKeys: 1 },
    ]),
  );
}

export type Client = Redis & ScriptCommands;
