import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { configTable, TABLE_END, TABLE_START } from "../src/config/docs.js";
import { ERROR_STATUS } from "../src/errors.js";

const readme = readFileSync(new URL("../README.md", import.meta.url), "utf8");

describe("README", () => {
  it("its configuration table is the one generated from the defaults object", () => {
    const start = readme.indexOf(TABLE_START) + TABLE_START.length;
    const end = readme.indexOf(TABLE_END);
    expect(readme.slice(start, end).trim()).toBe(configTable());
  });

  it("the quick start is exactly the two commands", () => {
    const m = /## Quick start\n\n```sh\n([\s\S]*?)```/.exec(readme);
    expect(m?.[1]).toBe("npm install && npm start\nnpm test\n");
  });

  it("lists every error code", () => {
    for (const code of Object.keys(ERROR_STATUS)) {
      if (code === "config_invalid" || code === "store_unavailable") continue;
      expect(readme, code).toContain(`\`${code}\``);
    }
  });
});
