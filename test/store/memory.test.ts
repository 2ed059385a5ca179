import { MemoryStore } from "../../src/store/memory/index.js";
import { durableContract, storeContract } from "./contract.js";

storeContract("memory", async (clock, log) => {
  const store = new MemoryStore(clock, log);
  return { store, close: () => store.close() };
});

durableContract("memory", async (clock) => {
  const store = new MemoryStore(clock);
  return { store, close: () => store.close() };
});
