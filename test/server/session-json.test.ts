import { afterEach, describe, expect, it, vi } from "vitest";
import { SessionTexts, sessionJson } from "../../src/server/session-json.js";
import type { SessionView } from "../../src/sessions/sessions.js";

afterEach(() => vi.restoreAllMocks());

const T = Date.UTC(2026, 0, 2, 3, 4, 5, 6);
const view = (over: Partial<SessionView> = {}): SessionView => ({
  id: "AAAAAAAAAAAAAAAAAAAAAA",
  userId: "u1",
  createdAt: T,
  lastSeenAt: T + 1,
  expiresAt: T + 2,
  idleExpiresAt: T + 3,
  userAgent: undefined,
  remember: false,
  ...over,
});

describe("SessionTexts: a session's JSON text, made once per version of its times", () => {
  it("is JSON.stringify(sessionJson(s)), and a second call for the same times formats no date", () => {
    const texts = new SessionTexts();
    const text = JSON.stringify(sessionJson(view()));
    expect(texts.json(view())).toBe(text);
    const toISOString = vi.spyOn(Date.prototype, "toISOString");
    expect(texts.json(view())).toBe(text);
    expect(toISOString).not.toHaveBeenCalled();
  });

  it("any of the four times changed (a touch, a new id's deadlines) gives the new text", () => {
    const texts = new SessionTexts();
    texts.json(view());
    for (const field of ["createdAt", "lastSeenAt", "expiresAt", "idleExpiresAt"] as const) {
      const changed = view({ [field]: T + 60_000 });
      expect(texts.json(changed)).toBe(JSON.stringify(sessionJson(changed)));
      expect(texts.json(view())).toBe(JSON.stringify(sessionJson(view())));
    }
    const other = view({ id: "BBBBBBBBBBBBBBBBBBBBBB" });
    expect(texts.json(other)).toBe(JSON.stringify(sessionJson(other)));
  });

  it("is bounded: the oldest session's text is dropped first", () => {
    const texts = new SessionTexts(2);
    for (const id of ["a", "b", "c"]) texts.json(view({ id }));
    expect(texts.size).toBe(2);
    const toISOString = vi.spyOn(Date.prototype, "toISOString");
    texts.json(view({ id: "c" }));
    expect(toISOString).not.toHaveBeenCalled();
    texts.json(view({ id: "a" }));
    expect(toISOString).toHaveBeenCalledTimes(4);
  });
});
