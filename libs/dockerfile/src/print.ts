/**
 * The one printer from Dockerfile values to text. All quoting and escaping
 * lives here. Layout: parser directives and leading ARGs are followed by a
 * blank line; every build stage after the first is preceded by one.
 */
import type { AddOptions, Command, CopyOptions, Dockerfile, Heredoc, Instruction, Mount, RunOptions } from "./model";

type Escape = "\\" | "`";

/**
 * Quotes a string the way the upstream generator does (OCaml's `%S`):
 * double quotes, with `"` and `\` backslash-escaped, control characters as
 * `\n` `\t` `\r` `\b` or `\ddd`, and every non-ASCII byte as `\ddd`.
 */
export function quote(value: string): string {
  let out = '"';
  for (const byte of Buffer.from(value, "utf8")) {
    switch (byte) {
      case 0x22:
        out += '\\"';
        break;
      case 0x5c:
        out += "\\\\";
        break;
      case 0x0a:
        out += "\\n";
        break;
      case 0x09:
        out += "\\t";
        break;
      case 0x0d:
        out += "\\r";
        break;
      case 0x08:
        out += "\\b";
        break;
      default:
        out += byte >= 0x20 && byte <= 0x7e ? String.fromCharCode(byte) : `\\${String(byte).padStart(3, "0")}`;
    }
  }
  return out + '"';
}

/** Escapes every occurrence of `char` and of the escape character itself with the escape character. */
function escapeWith(value: string, char: string, escape: Escape): string {
  let out = "";
  for (const c of value) out += c === char || c === escape ? escape + c : c;
  return out;
}

const jsonArray = (items: readonly string[]): string => `[ ${items.map(quote).join(", ")} ]`;
const octal = (mode: number): string => mode.toString(8).padStart(4, "0");

function printCommand(command: Command, escape: Escape): string {
  if (command.form === "exec") return jsonArray(command.argv);
  return command.commands.join(` && ${escape}\n  `);
}

function printMount(mount: Mount): string {
  // Every mount prints its own type: upstream printed a tmpfs as type=bind until 8.4.2 (#269).
  const fields: string[] = [`--mount=type=${mount.type}`];
  const opt = (name: string, value: string | number | boolean | undefined) => {
    if (value !== undefined) fields.push(`${name}=${String(value)}`);
  };
  switch (mount.type) {
    case "bind":
      opt("target", mount.target);
      opt("source", mount.source);
      opt("from", mount.from);
      opt("readwrite", mount.readwrite);
      break;
    case "cache":
      opt("id", mount.id);
      opt("target", mount.target);
      if (mount.readonly) fields.push("readonly");
      opt("sharing", mount.sharing);
      opt("from", mount.from);
      opt("source", mount.source);
      opt("mode", mount.mode === undefined ? undefined : octal(mount.mode));
      opt("uid", mount.uid);
      opt("gid", mount.gid);
      break;
    case "tmpfs":
      opt("target", mount.target);
      opt("size", mount.size);
      break;
    case "secret":
    case "ssh":
      opt("id", mount.id);
      opt("target", mount.target);
      opt("required", mount.required);
      opt("mode", mount.mode === undefined ? undefined : octal(mount.mode));
      opt("uid", mount.uid);
      opt("gid", mount.gid);
      break;
    default:
      return assertNever(mount);
  }
  return fields.join(",");
}

function runFlags(options: RunOptions, escape: Escape): string[] {
  const flags = (options.mounts ?? []).map((m) => escapeWith(printMount(m), " ", escape));
  if (options.network) flags.push(`--network=${options.network}`);
  if (options.security) flags.push(`--security=${options.security}`);
  return flags;
}

function heredocHeader(doc: Heredoc): string {
  return `<<${doc.strip ? "-" : ""}${doc.word}`;
}

function heredocBodies(docs: readonly Heredoc[]): string {
  return docs.map((d) => `\n${d.body}\n${d.delimiter}`).join("");
}

function copyFlags(options: CopyOptions & AddOptions): string[] {
  const flags: string[] = [];
  if (options.link) flags.push("--link");
  if (options.chown !== undefined) flags.push(`--chown=${options.chown}`);
  if (options.chmod !== undefined) flags.push(`--chmod=${octal(options.chmod)}`);
  if (options.from !== undefined) flags.push(`--from=${options.from}`);
  if (options.checksum !== undefined) flags.push(`--checksum=${options.checksum}`);
  if (options.keepGitDir !== undefined) flags.push(`--keep-git-dir=${options.keepGitDir}`);
  if (options.parents !== undefined) flags.push(`--parents=${options.parents}`);
  for (const pattern of options.exclude ?? []) flags.push(`--exclude=${pattern}`);
  if (options.unpack !== undefined) flags.push(`--unpack=${options.unpack}`);
  return flags;
}

const words = (...parts: string[]): string => parts.filter((p) => p !== "").join(" ");

function printInstruction(instruction: Instruction, escape: Escape): string {
  switch (instruction.kind) {
    case "directive": {
      const d = instruction.directive;
      switch (d.name) {
        case "syntax":
          return `# syntax=${d.value}`;
        case "escape":
          return `# escape=${d.char}`;
        case "check": {
          const settings = [...(d.skip.length ? [`skip=${d.skip.join(",")}`] : []), ...(d.error ? ["error=true"] : [])];
          return settings.length ? `# check=${settings.join(";")}` : "";
        }
        default:
          return assertNever(d);
      }
    }
    case "comment":
      return `# ${instruction.text}`;
    case "from": {
      const platform = instruction.platform ? `--platform=${instruction.platform} ` : "";
      const tag = instruction.tag ? `:${instruction.tag}` : "";
      const alias = instruction.alias ? ` AS ${instruction.alias}` : "";
      return `FROM ${platform}${instruction.image}${tag}${alias}`;
    }
    case "run":
      return `RUN ${[...runFlags(instruction.options, escape), printCommand(instruction.command, escape)].join(" ")}`;
    case "run-heredoc": {
      const headers = instruction.docs.map(
        ({ heredoc, command }) =>
          heredocHeader(heredoc) + (command === undefined ? "" : ` ${escapeWith(command, "\n", escape)}`),
      );
      const line = [...runFlags(instruction.options, escape), headers.join(" && ")].join(" ");
      return `RUN ${line}${heredocBodies(instruction.docs.map((d) => d.heredoc))}`;
    }
    case "cmd":
      return `CMD ${printCommand(instruction.command, escape)}`;
    case "entrypoint":
      return `ENTRYPOINT ${printCommand(instruction.command, escape)}`;
    case "shell":
      return `SHELL ${jsonArray(instruction.argv)}`;
    case "env":
      return `ENV ${instruction.vars.map(([k, v]) => `${k}="${escapeWith(v, '"', escape)}"`).join(" ")}`;
    case "arg":
      return instruction.default === undefined
        ? `ARG ${instruction.name}`
        : `ARG ${instruction.name}="${escapeWith(instruction.default, '"', escape)}"`;
    case "label":
      return `LABEL ${instruction.labels.map(([k, v]) => `${k}=${quote(v)}`).join(" ")}`;
    case "copy":
    case "add":
      return words(
        instruction.kind === "copy" ? "COPY" : "ADD",
        ...copyFlags(instruction.options),
        jsonArray([...instruction.sources, instruction.dest]),
      );
    case "copy-heredoc": {
      const flags: string[] = [];
      if (instruction.chown !== undefined) flags.push(`--chown=${instruction.chown}`);
      if (instruction.chmod !== undefined) flags.push(`--chmod=${octal(instruction.chmod)}`);
      const header = [...flags, ...instruction.docs.map(heredocHeader), instruction.dest].join(" ");
      return `COPY ${header}${heredocBodies(instruction.docs)}`;
    }
    case "user":
      return `USER ${instruction.user}`;
    case "workdir":
      return `WORKDIR ${instruction.path}`;
    case "expose":
      return `EXPOSE ${instruction.ports.join(" ")}`;
    case "volume":
      return `VOLUME ${jsonArray(instruction.paths)}`;
    case "stopsignal":
      return `STOPSIGNAL ${instruction.signal}`;
    default:
      return assertNever(instruction);
  }
}

/** The escape character in force: set by an `escape` parser directive at the top, else backslash. */
export function escapeCharOf(file: Dockerfile): Escape {
  for (const instruction of file) {
    if (instruction.kind !== "directive") break;
    if (instruction.directive.name === "escape") return instruction.directive.char;
  }
  return "\\";
}

/** Prints a Dockerfile. The result always ends with a newline. */
export function printDockerfile(file: Dockerfile): string {
  const escape = escapeCharOf(file);
  const firstFrom = file.findIndex((instruction) => instruction.kind === "from");
  let out = "";
  file.forEach((instruction, i) => {
    const previous = file[i - 1];
    if (previous && blankLineBetween(previous, instruction, file[i + 1], i - 1 === firstFrom, firstFrom !== -1 && i > firstFrom)) {
      out += "\n";
    }
    out += printInstruction(instruction, escape) + "\n";
  });
  return out;
}

function blankLineBetween(
  previous: Instruction,
  current: Instruction,
  next: Instruction | undefined,
  previousOpensStages: boolean,
  inStages: boolean,
): boolean {
  if (!inStages) {
    // Before the first stage: directives and global ARGs stand apart from what follows.
    return (
      (previous.kind === "directive" && current.kind !== "directive") ||
      (previous.kind === "arg" && current.kind !== "arg")
    );
  }
  // Between stages: a blank line before each later FROM, or before the comment that heads it.
  if (current.kind === "comment" && next?.kind === "from") return true;
  return current.kind === "from" && previous.kind !== "comment" && !previousOpensStages;
}

function assertNever(value: never): never {
  throw new Error(`unexpected value: ${JSON.stringify(value)}`);
}
