import { describe, expect, it } from "vitest";
import { chooseLogFormat, prettyLine, prettyStream } from "../../src/server/log-format.js";
import { createLogger } from "../../src/server/logger.js";
import { logCollector } from "../support/harness.js";

/** A fixed instant, shown in local time as the formatter does (the test runs in any TZ). */
const TIME = Date.UTC(2026, 0, 15, 9, 4, 5, 67);
const d = new Date(TIME);
const two = (n: number) => String(n).padStart(2, "0");
const HHMMSS = `${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}.067`;

const line = (fields: Record<string, unknown>) =>
  prettyLine(JSON.stringify({ level: 30, time: TIME, pid: 7, hostname: "h", ...fields }));

describe("prettyLine", () => {
  it("time, level, message, then the fields as key=value (pid and hostname left out)", () => {
    expect(line({ msg: "listening on http://localhost:4000 (127.0.0.1:4000)" })).toBe(
      `${HHMMSS} INFO  listening on http://localhost:4000 (127.0.0.1:4000)`,
    );
    expect(
      prettyLine(
        JSON.stringify({
          level: 40,
          time: TIME,
          msg: "fishing",
          client_id: "rs-1",
          forged: 61,
          tarpit: true,
          note: "two words",
          nested: { a: { b: 1 } },
          list: ["x", "y"],
        }),
      ),
    ).toBe(
      `${HHMMSS} WARN  fishing client_id=rs-1 forged=61 tarpit=true note="two words" nested.a.b=1 list=["x","y"]`,
    );
  });

  it("a request's lines: its id, method, path, address, status and time", () => {
    expect(
      line({
        reqId: "req-1",
        req: { id: "req-1", method: "GET", url: "/session?x=1", ip: "127.0.0.1" },
        msg: "incoming request",
      }),
    ).toBe(`${HHMMSS} INFO  [req-1] incoming request GET /session?x=1 from 127.0.0.1`);
    expect(
      line({
        reqId: "req-1",
        res: { statusCode: 401 },
        responseTime: 10.4321,
        msg: "request completed",
      }),
    ).toBe(`${HHMMSS} INFO  [req-1] request completed 401 in 10.4 ms`);
  });

  it("an error's stack follows, indented; its other fields are err.*", () => {
    const out = prettyLine(
      JSON.stringify({
        level: 50,
        time: TIME,
        msg: "request failed",
        err: {
          type: "Error",
          message: "boom",
          code: "E_X",
          stack: "Error: boom\n    at f (a.js:1:1)",
        },
      }),
    );
    expect(out).toBe(
      `${HHMMSS} ERROR request failed err.code=E_X\n    Error: boom\n    at f (a.js:1:1)`,
    );
  });

  it("escapes control characters and bidi controls: a value cannot forge a line or drive the terminal", () => {
    const evil = "x\n12:00:00.000 INFO  forged\u001b[31mred\u009b2J\u202eoff\u0000";
    const out = line({ msg: evil, path: evil, req: { method: "GET", url: evil } });
    expect(out.split("\n")).toHaveLength(1);
    for (let code = 0; code < 0x20; code++) {
      expect(out).not.toContain(String.fromCharCode(code));
    }
    expect(out).not.toMatch(/[\u007f-\u009f\u202e]/);
    expect(out).toContain("x\\n12:00:00.000 INFO  forged\\u001b[31mred\\u009b2J\\u202eoff\\u0000");
  });

  it("passes a line that is not a JSON object through, escaped", () => {
    expect(prettyLine("not json\u001b[2J")).toBe("not json\\u001b[2J");
    expect(prettyLine("[1,2]")).toBe("[1,2]");
  });
});

describe("the pretty logger", () => {
  it("censors secrets as the JSON logger does", () => {
    const { stream, lines } = logCollector();
    const log = createLogger("info", stream, "pretty");
    log.child({ reqId: "r1" }).info(
      {
        password: "hunter2hunter2",
        body: { client_secret: "tsr_secret_value", username: "bob" },
        headers: { cookie: "__Host-session=abc", authorization: "Bearer eyJ.x.y" },
      },
      "login attempt",
    );
    const out = lines.join("");
    expect(out).not.toMatch(/hunter2|tsr_secret_value|__Host-session|eyJ/);
    expect(out).toMatch(
      /^\d\d:\d\d:\d\d\.\d{3} INFO {2}\[r1\] login attempt password=\[redacted\] body\.client_secret=\[redacted\] body\.username=bob headers\.cookie=\[redacted\] headers\.authorization=\[redacted\]\n$/,
    );
  });

  it("writes one pretty line per JSON line it is given", () => {
    const written: string[] = [];
    const stream = prettyStream({ write: (t: string) => written.push(t) });
    stream.write(`${JSON.stringify({ level: 30, time: TIME, msg: "a" })}\n`);
    expect(written).toEqual([`${HHMMSS} INFO  a\n`]);
  });
});

describe("chooseLogFormat", () => {
  it("auto: pretty on a terminal, JSON otherwise; pretty and json are forced", () => {
    expect(chooseLogFormat("auto", true)).toBe("pretty");
    expect(chooseLogFormat("auto", false)).toBe("json");
    expect(chooseLogFormat("json", true)).toBe("json");
    expect(chooseLogFormat("pretty", false)).toBe("pretty");
  });
});
