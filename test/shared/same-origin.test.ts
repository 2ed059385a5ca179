import { describe, expect, it } from "vitest";
import { isCrossSiteByFetchMetadata } from "../../src/shared/same-origin.js";

const ours = (o: string) => o === "https://app.example";

describe("isCrossSiteByFetchMetadata", () => {
  it("Sec-Fetch-Site decides when present, whatever Origin says", () => {
    expect(isCrossSiteByFetchMetadata("same-origin", "null", ours)).toBe(false);
    expect(isCrossSiteByFetchMetadata("none", "https://evil.example", ours)).toBe(false);
    expect(isCrossSiteByFetchMetadata("same-site", "https://app.example", ours)).toBe(true);
    expect(isCrossSiteByFetchMetadata("cross-site", undefined, ours)).toBe(true);
    expect(isCrossSiteByFetchMetadata("bogus", "https://app.example", ours)).toBe(true);
  });

  it("without it, Origin must be allowed; null and non-strings are refused", () => {
    expect(isCrossSiteByFetchMetadata(undefined, "https://app.example", ours)).toBe(false);
    expect(isCrossSiteByFetchMetadata(undefined, "https://evil.example", ours)).toBe(true);
    expect(isCrossSiteByFetchMetadata(undefined, "null", ours)).toBe(true);
    expect(isCrossSiteByFetchMetadata(undefined, ["https://app.example"], ours)).toBe(true);
  });

  it("neither header: a non-browser client passes", () => {
    expect(isCrossSiteByFetchMetadata(undefined, undefined, ours)).toBe(false);
  });
});
