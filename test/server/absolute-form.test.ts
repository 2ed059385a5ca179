/**
 * An absolute-form request line (RFC 9112 §3.2.2: `GET http://host/path HTTP/1.1`) is
 * valid HTTP, and Fastify routes it by its path. The host in it is the client's word:
 * nothing the server sends the browser to may be built from it.
 */
import { connect } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { addThirdParty, thirdPartyAuthorizePath } from "../oauth/support.js";
import { cookie, login, type TestServer, testServer } from "../support/harness.js";

let s: TestServer;
afterEach(async () => s?.close());

/** Sends `raw` on a fresh connection and resolves with everything the server answered. */
function rawRequest(port: number, raw: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1");
    let data = "";
    socket.setEncoding("utf8");
    socket.on("data", (c: string) => {
      data += c;
    });
    socket.on("end", () => resolve(data));
    socket.on("error", reject);
    socket.write(raw);
  });
}

describe("absolute-form request lines", () => {
  it("the authorization endpoint's pages link to the path and query only, never to the line's host", async () => {
    s = await testServer();
    await addThirdParty(s, ["https://app.example.com/cb"]);
    const address = await s.app.listen({ port: 0, host: "127.0.0.1" });
    const port = Number(new URL(address).port);
    const path = thirdPartyAuthorizePath("https://app.example.com/cb");
    for (const site of ["cross-site", "same-origin"]) {
      const answer = await rawRequest(
        port,
        `GET http://evil.example${path} HTTP/1.1\r\n` +
          `Host: 127.0.0.1:${port}\r\nSec-Fetch-Site: ${site}\r\nConnection: close\r\n\r\n`,
      );
      expect(answer).toMatch(/^HTTP\/1\.1 200 /);
      expect(answer).not.toContain("evil.example");
      // The bounce (cross-site) and the sign-in form's return_to (same-origin) keep the path.
      expect(answer).toContain("/oauth/authorize?response_type=code&amp;client_id=third");
    }
  });
});

describe("the authorization endpoint refuses what it could not complete or must not do", () => {
  it("HEAD /oauth/authorize: 405 with Allow, and nothing stored", async () => {
    s = await testServer();
    await addThirdParty(s, ["https://app.example.com/cb"]);
    const interactions = s.tessera.stores.ephemeral.collection("interaction");
    const session = await login(s.app);
    const res = await s.app.inject({
      method: "HEAD",
      url: thirdPartyAuthorizePath("https://app.example.com/cb"),
      headers: cookie(session),
    });
    expect(res.statusCode).toBe(405);
    expect(res.headers.allow).toBe("GET");
    expect(res.headers["content-security-policy"]).toContain("default-src 'none'");
    const user = await s.tessera.users.require("alice");
    expect(await interactions.listByUser(user.id)).toEqual([]);
  });

  it("a request too long for its sign-in to come back to is refused up front", async () => {
    s = await testServer();
    await addThirdParty(s, ["https://app.example.com/cb"]);
    const url = `${thirdPartyAuthorizePath("https://app.example.com/cb").replace("state=s", `state=${"s".repeat(1000)}`)}&${"x=1&".repeat(2000)}`;
    const res = await s.app.inject({ url });
    expect(res.statusCode).toBe(400);
    expect(res.body).toContain("too long");
    expect(res.body).not.toContain("<form");
  });
});
