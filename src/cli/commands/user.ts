import type { Config } from "../../config/defaults.js";
import { TesseraError } from "../../errors.js";
import type { UserRecord } from "../../store/types.js";
import type { ProfileChanges } from "../../users/profile.js";
import {
  listOption,
  type Options,
  positionalArgs,
  readPassword,
  rejectUnknown,
  requirePasswordStdin,
  stringOption,
  switchOption,
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
      rejectUnknown(unknown, ["password-stdin", "roles", ...PROFILE_OPTIONS]);
      requirePasswordStdin("user add", unknown);
      const [name] = positionalArgs("user add", args, ["NAME"]) as [string];
      const roles = listOption(stringOption("roles", unknown.get("roles")));
      const profile = profileOptions(unknown);
      const password = await readPassword(io);
      return withTessera(config, io, async (t) => {
        const user = await t.users.create({ username: name, password, roles, profile });
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
    case "profile": {
      rejectUnknown(unknown, [...PROFILE_OPTIONS, "no-email-verified"]);
      const [name] = positionalArgs("user profile", args, ["NAME"]) as [string];
      const changes = profileOptions(unknown);
      if (Object.keys(changes).length === 0) {
        throw new TesseraError(
          "invalid_request",
          "user profile needs --email, --[no-]email-verified or --name",
        );
      }
      return withTessera(config, io, async (t) => {
        const user = await t.users.setProfile(name, changes);
        io.out(profileLine(user));
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

/** A user's OpenID Connect profile options (`user add` and `user profile`). */
const PROFILE_OPTIONS = ["email", "email-verified", "name"];

function profileOptions(unknown: Options): ProfileChanges {
  const changes: ProfileChanges = {};
  const email = unknown.get("email");
  // `--email ''` removes it (a flag with no value is refused as for every string option).
  if (email !== undefined) changes.email = email === "" ? null : stringOption("email", email);
  const verified = switchOption("email-verified", unknown);
  if (verified !== undefined) changes.emailVerified = verified;
  const displayName = unknown.get("name");
  if (displayName !== undefined) {
    changes.displayName = displayName === "" ? null : stringOption("name", displayName);
  }
  return changes;
}

function profileLine(u: UserRecord): string {
  const email = u.email === undefined ? "-" : `${u.email}${u.emailVerified ? " (verified)" : ""}`;
  return `${u.username}\temail=${email}\tname=${u.displayName ?? "-"}`;
}
