import type { Config } from "../../config/defaults.js";
import { TesseraError } from "../../errors.js";
import {
  listOption,
  type Options,
  positionalArgs,
  readPassword,
  rejectUnknown,
  requirePasswordStdin,
  stringOption,
  withTessera,
} from "../flags.js";
import type { CliIo } from "../io.js";

/** `user …`: every option and argument is checked before the store is opened. */
export async function userCommand(
  config: Config,
  sub: string | undefined,
  args: string[],
  unknown: Options,
  io: CliIo,
): Promise<number> {
  switch (sub) {
    case "add": {
      rejectUnknown(unknown, ["password-stdin", "roles"]);
      requirePasswordStdin("user add", unknown);
      const [name] = positionalArgs("user add", args, ["NAME"]) as [string];
      const roles = listOption(stringOption("roles", unknown.get("roles")));
      const password = await readPassword(io);
      return withTessera(config, io, async (t) => {
        const user = await t.users.create({ username: name, password, roles });
        io.out(`created user ${user.username} (id ${user.id})`);
        return 0;
      });
    }
    case "list":
      rejectUnknown(unknown, []);
      positionalArgs("user list", args, []);
      return withTessera(config, io, async (t) => {
        for (const u of await t.users.list()) {
          const state = u.disabled ? "disabled" : "active";
          const created = new Date(u.createdAt).toISOString();
          io.out(`${u.id}\t${u.username}\t${state}\t${u.roles.join(",") || "-"}\t${created}`);
        }
        return 0;
      });
    case "disable":
    case "enable": {
      rejectUnknown(unknown, []);
      const [name] = positionalArgs(`user ${sub}`, args, ["NAME"]) as [string];
      return withTessera(config, io, async (t) => {
        const user = sub === "disable" ? await t.disableUser(name) : await t.enableUser(name);
        io.out(`${sub}d user ${user.username}${sub === "disable" ? "; every session ended" : ""}`);
        return 0;
      });
    }
    case "roles": {
      rejectUnknown(unknown, ["set"]);
      const [name] = positionalArgs("user roles", args, ["NAME"]) as [string];
      const set = unknown.get("set");
      if (set === undefined || set === true) {
        throw new TesseraError(
          "invalid_request",
          "user roles needs --set a,b (or --set '' for none)",
        );
      }
      return withTessera(config, io, async (t) => {
        const user = await t.users.setRoles(name, listOption(set));
        io.out(`roles of ${user.username}: ${user.roles.join(",") || "(none)"}`);
        return 0;
      });
    }
    case "password": {
      rejectUnknown(unknown, ["password-stdin"]);
      requirePasswordStdin("user password", unknown);
      const [name] = positionalArgs("user password", args, ["NAME"]) as [string];
      const password = await readPassword(io);
      return withTessera(config, io, async (t) => {
        const user = await t.resetPassword(name, password);
        io.out(`password of ${user.username} changed; every session ended`);
        return 0;
      });
    }
    default:
      throw new TesseraError(
        "invalid_request",
        `unknown user command "${sub ?? ""}"; see tessera help`,
      );
  }
}
