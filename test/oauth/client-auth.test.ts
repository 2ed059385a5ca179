/**
 * client_secret_basic: the id and secret are form-urlencoded before base64 (RFC 6749
 * §2.3.1). Values with nothing to decode skip the decoder; the others are decoded as ever.
 */
import { describe, expect, it } from "vitest";
import type { Clients } from "../../src/clients/clients.js";
import { isTesseraError } from "../../src/errors.js";
import { authenticateClient } from "../../src/oauth/client-auth.js";
import type { ClientRecord } from "../../src/store/types.js";

function recording() {
  const seen: [string, string][] = [];
  const clients = {
    authenticate: async (id: string, secret: string) => {
      seen.push([id, secret]);
      return { id } as ClientRecord;
    },
  } as unknown as Clients;
  return { clients, seen };
}

const basic = (raw: string) => `Basic ${Buffer.from(raw, "utf8").toString("base64")}`;

describe("authenticateClient, client_secret_basic decoding", () => {
  it("passes plain values through and form-decodes the others (%XX and +)", async () => {
    const { clients, seen } = recording();
    await authenticateClient(clients, basic("svc:tsr_abc-DEF_123"), {});
    await authenticateClient(clients, basic("a%3Ab+c:s%25e+c%2Bret"), {});
    expect(seen).toEqual([
      ["svc", "tsr_abc-DEF_123"],
      ["a:b c", "s%e c+ret"],
    ]);
  });

  it("a malformed escape is invalid_client (401), never a crash", async () => {
    const { clients } = recording();
    const err = await authenticateClient(clients, basic("svc:%zz"), {}).catch((e: unknown) => e);
    expect(isTesseraError(err) && err.code).toBe("invalid_client");
  });
});
