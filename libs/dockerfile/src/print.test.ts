import { describe, expect, it } from "vitest";
import {
  add,
  bindMount,
  cmd,
  cmdExec,
  comment,
  copy,
  copyHeredoc,
  crunch,
  dockerfile,
  entrypointExec,
  env,
  escapeDirective,
  from,
  heredoc,
  label,
  run,
  runHeredoc,
  shell,
  syntax,
  tmpfsMount,
  user,
  workdir,
} from "./build";
import { printDockerfile, quote } from "./print";

describe("quote", () => {
  it("escapes quotes, backslashes and control characters like OCaml's %S", () => {
    expect(quote("C:\\TEMP\\")).toBe('"C:\\\\TEMP\\\\"');
    expect(quote('say "hi"')).toBe(String.raw`"say \"hi\""`);
    expect(quote("a\nb\tc\rd\be")).toBe(String.raw`"a\nb\tc\rd\be"`);
    expect(quote("\u0001")).toBe(String.raw`"\001"`);
  });

  it("escapes every byte of a non-ASCII character in decimal", () => {
    expect(quote("é")).toBe(String.raw`"\195\169"`);
  });
});

describe("printDockerfile", () => {
  it("puts a blank line after parser directives and before each later stage", () => {
    const text = printDockerfile(
      dockerfile(
        syntax("docker/dockerfile:1"),
        comment("generated"),
        from("debian", { tag: "13" }),
        run("make"),
        from("debian", { tag: "13", alias: "runtime" }),
        copy(["/usr/local/bin/opam"], "/usr/bin/opam", { from: "0" }),
      ),
    );
    expect(text).toBe(
      [
        "# syntax=docker/dockerfile:1",
        "",
        "# generated",
        "FROM debian:13",
        "RUN make",
        "",
        "FROM debian:13 AS runtime",
        'COPY --from=0 [ "/usr/local/bin/opam", "/usr/bin/opam" ]',
        "",
      ].join("\n"),
    );
  });

  it("keeps consecutive FROM lines of the first stages together and heads a later stage's comment with a blank", () => {
    const text = printDockerfile(
      dockerfile(from("a", { alias: "x" }), from("b", { alias: "y" }), from("c"), run("true"), comment("last"), from("d")),
    );
    expect(text).toBe("FROM a AS x\nFROM b AS y\n\nFROM c\nRUN true\n\n# last\nFROM d\n");
  });

  it("prints heredocs after the instruction line, stripping mode marked with -", () => {
    const text = printDockerfile(
      dockerfile(
        from("alpine"),
        copyHeredoc([heredoc("\topam ALL=(ALL:ALL) NOPASSWD:ALL", { strip: true })], "/etc/sudoers.d/opam", { chown: "opam" }),
        runHeredoc([{ heredoc: heredoc("echo hi", { word: "SCRIPT" }), command: "sh" }]),
      ),
    );
    expect(text).toBe(
      [
        "FROM alpine",
        "COPY --chown=opam <<-EOF /etc/sudoers.d/opam",
        "\topam ALL=(ALL:ALL) NOPASSWD:ALL",
        "EOF",
        "RUN <<SCRIPT sh",
        "echo hi",
        "SCRIPT",
        "",
      ].join("\n"),
    );
  });

  it("orders COPY flags as BuildKit documents them and quotes sources as JSON", () => {
    const text = printDockerfile(
      dockerfile(from("x"), copy(["."], "/home/opam/opam-repository", { link: true, chown: "opam:opam", chmod: 0o755 })),
    );
    expect(text).toContain('COPY --link --chown=opam:opam --chmod=0755 [ ".", "/home/opam/opam-repository" ]');
  });

  it("escapes double quotes and the escape character in ENV values", () => {
    const text = printDockerfile(dockerfile(from("x"), env([["A", 'say "hi" \\ bye'], ["B", "1"]])));
    expect(text).toContain('ENV A="say \\"hi\\" \\\\ bye" B="1"');
  });

  it("prints a tmpfs mount as type=tmpfs, never as a bind mount", () => {
    const text = printDockerfile(
      dockerfile(from("x"), run("make", { mounts: [tmpfsMount("/tmp/build", { size: 1048576 }), tmpfsMount("/var/tmp")] })),
    );
    expect(text).toContain("RUN --mount=type=tmpfs,target=/tmp/build,size=1048576 --mount=type=tmpfs,target=/var/tmp make\n");
  });

  it("escapes spaces in RUN mounts and prints exec and shell forms", () => {
    const text = printDockerfile(
      dockerfile(
        from("x"),
        run("rsync -aH /cache/ /dst/", { mounts: [bindMount("/my cache", { from: "opam-archive" })] }),
        shell(["/bin/bash", "-c"]),
        entrypointExec(["opam", "exec", "--"]),
        cmd("bash"),
        label([["distro_style", "apt"]]),
        user("opam"),
        workdir("/home/opam"),
      ),
    );
    expect(text).toContain("RUN --mount=type=bind,target=/my\\ cache,from=opam-archive rsync -aH /cache/ /dst/");
    expect(text).toContain('SHELL [ "/bin/bash", "-c" ]');
    expect(text).toContain('ENTRYPOINT [ "opam", "exec", "--" ]');
    expect(text).toContain("CMD bash\n");
    expect(text).toContain('LABEL distro_style="apt"');
  });

  it("uses the backtick from an escape directive for line continuations, ENV values and crunched RUNs", () => {
    const text = printDockerfile(
      dockerfile(
        escapeDirective("`"),
        from("mcr.microsoft.com/windows/server", { tag: "ltsc2025" }),
        add(["https://example.com/setup.exe"], "C:\\TEMP\\"),
        crunch(dockerfile(run("C:\\setup.exe"), run("del C:\\setup.exe"))),
        env([["OPAMROOT", "C:\\opam\\.opam"], ["Q", "a`b"]]),
        cmdExec(["cmd.exe"]),
      ),
    );
    expect(text).toBe(
      [
        "# escape=`",
        "",
        "FROM mcr.microsoft.com/windows/server:ltsc2025",
        'ADD [ "https://example.com/setup.exe", "C:\\\\TEMP\\\\" ]',
        "RUN C:\\setup.exe && `",
        "  del C:\\setup.exe",
        'ENV OPAMROOT="C:\\opam\\.opam" Q="a``b"',
        'CMD [ "cmd.exe" ]',
        "",
      ].join("\n"),
    );
  });
});

describe("crunch", () => {
  it("joins only consecutive shell RUNs and keeps other instructions in place", () => {
    const joined = crunch(dockerfile(run("a"), run("b"), user("x"), run("c"), run("d"), run("e")));
    expect(printDockerfile(dockerfile(from("x"), joined))).toBe(
      "FROM x\nRUN a && \\\n  b\nUSER x\nRUN c && \\\n  d && \\\n  e\n",
    );
  });

  it("refuses to join RUNs whose mounts differ", () => {
    expect(() => crunch(dockerfile(run("a", { mounts: [bindMount("/m")] }), run("b")))).toThrow(/different mounts/);
  });
});
