import { describe, expect, it } from "vitest";
import { TesseraError } from "../../src/errors.js";
import {
  checkNewPassword,
  isCommonPassword,
  normalisePassword,
  normaliseUsername,
} from "../../src/users/policy.js";

/** The code of the TesseraError `fn` throws (anything else thrown fails the test). */
const code = (fn: () => unknown) => {
  try {
    fn();
    return undefined;
  } catch (e) {
    expect(e).toBeInstanceOf(TesseraError);
    return (e as TesseraError).code;
  }
};

describe("password policy", () => {
  it("accepts 8 to 1024 bytes of any Unicode, without truncation", () => {
    expect(checkNewPassword("eight ch")).toBe("eight ch");
    expect(checkNewPassword("пароль-длинный")).toBe("пароль-длинный");
    expect(checkNewPassword("🔑 key to 🏠")).toBe("🔑 key to 🏠");
    const max = "ab".repeat(512);
    expect(checkNewPassword(max)).toBe(max);
  });

  it("counts characters, not bytes, for the minimum; bytes for the maximum", () => {
    expect(code(() => checkNewPassword("seven c"))).toBe("password_too_short");
    expect(code(() => checkNewPassword("é".repeat(513)))).toBe("password_too_long");
    expect(code(() => checkNewPassword("x".repeat(1024 * 1024)))).toBe("password_too_long");
  });

  it("normalises with NFKC so one password typed two ways matches", () => {
    expect(normalisePassword("ﬁre-and-ice")).toBe("fire-and-ice");
    expect(normalisePassword("e\u0301toile-du-nord")).toBe("\u00e9toile-du-nord");
  });

  it("rejects NUL", () => {
    expect(code(() => normalisePassword("abc\u0000defgh"))).toBe("invalid_request");
  });

  it("rejects common passwords and their decorated forms", () => {
    for (const p of [
      "password",
      "Password1",
      "12345678",
      "qwertyuiop",
      "P@ssw0rd",
      "Password123!",
      "!!monkey2024",
      "dragondragon",
      "aaaaaaaaaa",
      "iloveyou",
    ]) {
      expect(isCommonPassword(p), p).toBe(true);
    }
    expect(isCommonPassword("alice-1999!", "alice")).toBe(true);
    for (const p of ["correct horse battery staple", "tr0ub4dor&3x", "a brand new passphrase"]) {
      expect(isCommonPassword(p), p).toBe(false);
    }
  });

  it("checkNewPassword refuses common passwords: 400 password_too_common", () => {
    for (const p of ["Password123!", "P@ssw0rd", "dragondragon"]) {
      expect(
        code(() => checkNewPassword(p)),
        p,
      ).toBe("password_too_common");
    }
    // The username padded with digits and symbols: common for that user only.
    expect(code(() => checkNewPassword("alice-1999!", "alice"))).toBe("password_too_common");
    expect(checkNewPassword("alice-1999!", "bob")).toBe("alice-1999!");
    let thrown: unknown;
    try {
      checkNewPassword("Password123!");
    } catch (e) {
      thrown = e;
    }
    // The answer is a 400 whose message never echoes the password.
    expect(thrown).toMatchObject({
      status: 400,
      message: expect.not.stringContaining("Password123!"),
    });
  });
});

describe("usernames", () => {
  it("are NFKC-normalised and case-folded into a unique key", () => {
    expect(normaliseUsername("Alice")).toEqual({ username: "Alice", key: "alice" });
    expect(normaliseUsername("ｂｏｂ")).toEqual({ username: "bob", key: "bob" });
    expect(normaliseUsername("  carol@example.com ")).toEqual({
      username: "carol@example.com",
      key: "carol@example.com",
    });
  });

  it("refuses empty, long, and odd characters", () => {
    for (const u of ["", "a".repeat(65), "a b", "a\u0000b", "<script>", "a/b", "a\nb"]) {
      expect(
        code(() => normaliseUsername(u)),
        JSON.stringify(u),
      ).toBe("invalid_username");
    }
  });
});
