/**
 * A Dockerfile as a value: an ordered list of typed instructions.
 * Nothing here prints or escapes; that is the printer's job (print.ts).
 */

/** A command in shell form (one or more `&&`-joined commands) or exec form (JSON argv). */
export type Command =
  | { readonly form: "shell"; readonly commands: readonly string[] }
  | { readonly form: "exec"; readonly argv: readonly string[] };

export type Mount =
  | { readonly type: "bind"; readonly target: string; readonly source?: string; readonly from?: string; readonly readwrite?: boolean }
  | {
      readonly type: "cache";
      readonly target: string;
      readonly id?: string;
      readonly readonly?: boolean;
      readonly sharing?: "shared" | "private" | "locked";
      readonly from?: string;
      readonly source?: string;
      readonly mode?: number;
      readonly uid?: number;
      readonly gid?: number;
    }
  | { readonly type: "tmpfs"; readonly target: string; readonly size?: number }
  | {
      readonly type: "secret" | "ssh";
      readonly id?: string;
      readonly target?: string;
      readonly required?: boolean;
      readonly mode?: number;
      readonly uid?: number;
      readonly gid?: number;
    };

export interface RunOptions {
  readonly mounts?: readonly Mount[];
  readonly network?: "default" | "none" | "host";
  readonly security?: "insecure" | "sandbox";
}

/** A here-document: `<<WORD` (or `<<-WORD` when `strip`), its body, then the delimiter line. */
export interface Heredoc {
  readonly body: string;
  readonly word: string;
  readonly delimiter: string;
  readonly strip: boolean;
}

export interface CopyOptions {
  readonly from?: string;
  readonly chown?: string;
  readonly chmod?: number;
  readonly link?: boolean;
  readonly parents?: boolean;
  readonly exclude?: readonly string[];
}

export interface AddOptions {
  readonly chown?: string;
  readonly chmod?: number;
  readonly link?: boolean;
  readonly checksum?: string;
  readonly keepGitDir?: boolean;
  readonly unpack?: boolean;
  readonly exclude?: readonly string[];
}

export type ParserDirective =
  | { readonly name: "syntax"; readonly value: string }
  | { readonly name: "escape"; readonly char: "\\" | "`" }
  | { readonly name: "check"; readonly skip: readonly string[]; readonly error: boolean };

export type Instruction =
  | { readonly kind: "directive"; readonly directive: ParserDirective }
  | { readonly kind: "comment"; readonly text: string }
  | { readonly kind: "from"; readonly image: string; readonly tag?: string; readonly alias?: string; readonly platform?: string }
  | { readonly kind: "run"; readonly command: Command; readonly options: RunOptions }
  | {
      readonly kind: "run-heredoc";
      readonly docs: readonly { readonly heredoc: Heredoc; readonly command?: string }[];
      readonly options: RunOptions;
    }
  | { readonly kind: "cmd"; readonly command: Command }
  | { readonly kind: "entrypoint"; readonly command: Command }
  | { readonly kind: "shell"; readonly argv: readonly string[] }
  | { readonly kind: "env"; readonly vars: readonly (readonly [string, string])[] }
  | { readonly kind: "arg"; readonly name: string; readonly default?: string }
  | { readonly kind: "label"; readonly labels: readonly (readonly [string, string])[] }
  | { readonly kind: "copy"; readonly sources: readonly string[]; readonly dest: string; readonly options: CopyOptions }
  | { readonly kind: "add"; readonly sources: readonly string[]; readonly dest: string; readonly options: AddOptions }
  | {
      readonly kind: "copy-heredoc";
      readonly docs: readonly Heredoc[];
      readonly dest: string;
      readonly chown?: string;
      readonly chmod?: number;
    }
  | { readonly kind: "user"; readonly user: string }
  | { readonly kind: "workdir"; readonly path: string }
  | { readonly kind: "expose"; readonly ports: readonly number[] }
  | { readonly kind: "volume"; readonly paths: readonly string[] }
  | { readonly kind: "stopsignal"; readonly signal: string };

export type Dockerfile = readonly Instruction[];
