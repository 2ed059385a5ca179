import { describe, expect, it } from "vitest";
import { loopbackUrl } from "../../src/demo/loopback.js";

describe("loopbackUrl", () => {
  const issuer = "https://auth.example";
  it.each([
    ["127.0.0.1", 4000, "http://127.0.0.1:4000"],
    ["0.0.0.0", 4000, "http://127.0.0.1:4000"],
    ["::", 4000, "http://[::1]:4000"],
    ["::1", 4001, "http://[::1]:4001"],
    ["10.0.0.5", 80, "http://10.0.0.5:80"],
  ])("host %s port %i → %s", (host, port, url) => {
    expect(loopbackUrl({ host, port, issuer })).toBe(url);
  });

  it("port 0 (chosen at listen time): the issuer's origin", () => {
    expect(loopbackUrl({ host: "127.0.0.1", port: 0, issuer: "http://localhost:5123/x" })).toBe(
      "http://localhost:5123",
    );
  });
});
