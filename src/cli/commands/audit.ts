import { checkAuditRequest } from "../../audit/query.js";
import type { Config } from "../../config/defaults.js";
import type { AuditRecord } from "../../store/types.js";
import {
  intOption,
  type Options,
  positionalArgs,
  rejectUnknown,
  stringOption,
  withTessera,
} from "../flags.js";
import type { CliIo } from "../io.js";

/**
 * `audit [--user U] [--client C] [--type T] [--since 1h] [--limit N] [--json]`: the audit
 * trail, newest first — a table, or one JSON object per line with `--json`. An unknown
 * type, a bad duration or limit is refused (exit 2) before the store is opened.
 */
export async function auditCommand(
  config: Config,
  args: string[],
  unknown: Options,
  io: CliIo,
): Promise<number> {
  rejectUnknown(unknown, ["user", "client", "type", "since", "limit", "json"]);
  positionalArgs("audit", args, []);
  const request = {
    user: stringOption("user", unknown.get("user")),
    client: stringOption("client", unknown.get("client")),
    type: stringOption("type", unknown.get("type")),
    since: stringOption("since", unknown.get("since")),
    limit: intOption("limit", unknown.get("limit")),
  };
  checkAuditRequest(request); // before the store is opened
  const json = unknown.get("json") === true;
  return withTessera(config, io, async (t) => {
    const records = await t.audit.find(request);
    if (json) {
      for (const r of records) io.out(JSON.stringify(r));
      return 0;
    }
    io.out(["time", "type", "actor", "user", "client", "source", "reason", "details"].join("\t"));
    for (const r of records) io.out(row(r));
    return 0;
  });
}

function row(r: AuditRecord): string {
  const details = Object.entries(r.details)
    .map(([k, v]) => `${k}=${Array.isArray(v) ? v.join(",") : String(v)}`)
    .join(" ");
  return [
    new Date(r.time).toISOString(),
    r.type,
    r.actor,
    r.userId ?? "-",
    r.clientId ?? "-",
    r.source ?? "-",
    r.reason ?? "-",
    details || "-",
  ].join("\t");
}
