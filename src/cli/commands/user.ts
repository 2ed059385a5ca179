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
  type Subcommand,
  stringOption,
  switchOption,
  unknownSubcommand,
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
    case "add":
      return userAdd(config, args, unknown, io);
    case "list":
      return userList(config, args, unknown, io);
    case "disable":
    case "enable":
      return userDisableOrEnable(config, sub, args, unknown, io);
    case "roles":
      return userRoles(config, args, unknown, io);
    case "profile":
      return userProfile(config, args, unknown, io);
    case "password":
      return userPassword(config, args, unknown, io);
    default:
      throw unknownSubcommand("user", sub);
  }
}

/** `user add NAME --password-stdin [--roles a,b] [profile options]`: creates a user. */
const userAdd: Subcommand = async (config, args, unknown, io) => {
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
};

/** `user list`: one line per user (id, name, state, roles, creation time). */
const userList: Subcommand = async (config, args, unknown, io) => {
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
};

/** `user disable NAME` / `user enable NAME`: disabling also ends every session. */
async function userDisableOrEnable(
  config: Config,
  sub: "disable" | "enable",
  args: string[],
  unknown: Options,
  io: CliIo,
): Promise<number> {
  rejectUnknown(unknown, []);
  const [name] = positionalArgs(`user ${sub}`, args, ["NAME"]) as [string];
  return withTessera(config, io, async (t) => {
    const user = sub === "disable" ? await t.disableUser(name) : await t.enableUser(name);
    io.out(`${sub}d user ${user.username}${sub === "disable" ? "; every session ended" : ""}`);
    return 0;
  });
}

/** `user roles NAME --set a,b`: replaces the user's roles (`--set ''` for none). */
const userRoles: Subcommand = async (config, args, unknown, io) => {
  rejectUnknown(unknown, ["set"]);
  const [name] = positionalArgs("user roles", args, ["NAME"]) as [string];
  const set = unknown.get("set");
  if (set === undefined || set === true) {
    throw new TesseraError("invalid_request", "user roles needs --set a,b (or --set '' for none)");
  }
  return withTessera(config, io, async (t) => {
    const user = await t.users.setRoles(name, listOption(set));
    io.out(`roles of ${user.username}: ${user.roles.join(",") || "(none)"}`);
    return 0;
  });
};

/** `user profile NAME [profile options]`: changes the user's OpenID Connect profile. */
const userProfile: Subcommand = async (config, args, unknown, io) => {
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
};

/** `user password NAME --password-stdin`: the admin reset; ends every session. */
const userPassword: Subcommand = async (config, args, unknown, io) => {
  rejectUnknown(unknown, ["password-stdin"]);
  requirePasswordStdin("user password", unknown);
  const [name] = positionalArgs("user password", args, ["NAME"]) as [string];
  const password = await readPassword(io);
  return withTessera(config, io, async (t) => {
    const user = await t.resetPassword(name, password);
    io.out(`password of ${user.username} changed; every session ended`);
    return 0;
  });
};

/** A user's OpenID Connect profile options (`user add` and `user profile`). */
const PROFILE_OPTIONS = ["email", "email-verified", "name"];

/** The profile changes the options ask for (`''` clears email or name). */
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

/** One user's profile as `user profile` prints it. */
function profileLine(u: UserRecord): string {
  const email = u.email === undefined ? "-" : `${u.email}${u.emailVerified ? " (verified)" : ""}`;
  return `${u.username}\temail=${email}\tname=${u.displayName ?? "-"}`;
}
