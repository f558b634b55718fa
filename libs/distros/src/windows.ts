/**
 * Native Windows opam images (mingw-w64 or MSVC ports), built with Cygwin for
 * the build tools and WinGet for system packages. Windows containers have no
 * BuildKit, so these Dockerfiles use the backtick escape and no heredocs.
 */
import {
  add,
  comment,
  copy,
  crunch,
  dockerfile,
  env,
  escapeDirective,
  from,
  label,
  run,
  user,
  workdir,
  type Dockerfile,
} from "../../dockerfile/src";
import { GENERATED_BY } from "./linux";
import { pinOf, type OpamBuild, type OpamSources, type PinStyle, type WindowsDistro, type WindowsFacts } from "./model";

const CYGWIN_ROOT = String.raw`C:\cygwin64`;
const CYGWIN_SITE = "https://mirrors.kernel.org/sourceware/cygwin/";
const CYGWIN_SETUP_ARGS = [
  "--quiet-mode",
  "--no-shortcuts",
  "--no-startmenu",
  "--no-desktop",
  "--only-site",
  "--local-package-dir",
  String.raw`C:\TEMP\cache`,
];
const SYSTEM_ENVIRONMENT = String.raw`"HKLM\SYSTEM\CurrentControlSet\Control\Session Manager\Environment"`;
const OPAM_HOME = String.raw`C:\cygwin64\home\opam`;
const OPAM_REPOSITORY = String.raw`C:\cygwin64\home\opam\opam-repository`;
const VCVARSALL = String.raw`"C:\Program Files (x86)\Microsoft Visual Studio\2022\BuildTools\VC\Auxiliary\Build\vcvarsall.bat"`;

const MINGW_PACKAGES = ["make", "diffutils", "patch", "mingw64-x86_64-gcc-core", "git"];
const MSVC_PACKAGES = ["make", "diffutils", "patch", "git"];
/** Tools opam needs at run time on Windows. */
const OPAM_RUNTIME_PACKAGES = ["rsync", "patch", "diffutils", "curl", "make", "unzip", "git", "m4", "perl"];

const powershell = (script: string): Dockerfile => run(`powershell -Command "${script}"`);

/** Appends removal of C:\TEMP and joins the RUN steps into one layer. */
const withTempCleanup = (steps: Dockerfile): Dockerfile =>
  crunch(dockerfile(steps, powershell(String.raw`Remove-Item 'C:\TEMP' -Recurse`)));

function header(distro: WindowsDistro, alias?: string): Dockerfile {
  return dockerfile(
    from(distro.base.image, { tag: distro.base.tag, ...(alias ? { alias } : {}) }),
    user("ContainerAdministrator"),
  );
}

/** Strips trailing backslashes from the machine PATH, which break `for /f` parsing later. */
const sanitizeRegistryPath = (): Dockerfile =>
  run(String.raw`for /f "tokens=1,2,*" %a in ('reg query ${SYSTEM_ENVIRONMENT} /V Path ^| findstr /r "\\$"') do ` +
    "`\n" +
    String.raw`          for /f "delims=" %l in ('cmd /v:on /c "set v=%c&& echo !v:~0,-1!"') do ` +
    "`\n" +
    String.raw`            reg add ${SYSTEM_ENVIRONMENT} /V Path /t REG_EXPAND_SZ /f /d "%l"`);

const prependPath = (paths: readonly string[]): Dockerfile =>
  run(String.raw`for /f "tokens=1,2,*" %a in ('reg query ${SYSTEM_ENVIRONMENT} /V Path ^| findstr /r "^[^H]"') do ` +
    "`\n" +
    String.raw`        reg add ${SYSTEM_ENVIRONMENT} /V Path /t REG_EXPAND_SZ /f /d "${paths.join(";")};%c"`);

/** The Visual C++ runtime, which WinGet needs. */
const installVcRedist = (): Dockerfile =>
  withTempCleanup(
    dockerfile(
      add(["https://aka.ms/vs/17/release/vc_redist.x64.exe"], "C:\\TEMP\\"),
      run(String.raw`C:\TEMP\vc_redist.x64.exe /install /passive /norestart /log C:\TEMP\vc_redist.log`),
    ),
  );

function installBuildTools(components: readonly string[]): Dockerfile {
  // Workloads and components with known issues.
  const excluded = [
    "Microsoft.VisualStudio.Component.Windows10SDK.10240",
    "Microsoft.VisualStudio.Component.Windows10SDK.10586",
    "Microsoft.VisualStudio.Component.Windows10SDK.14393",
    "Microsoft.VisualStudio.Component.Windows81SDK",
  ];
  const options = (verb: string, names: readonly string[]) => names.map((n) => ` \`\n        --${verb} ${n}`).join("");
  return dockerfile(
    add(["https://raw.githubusercontent.com/ocurrent/ocaml-dockerfile/master/src-opam/Install.cmd"], "C:\\TEMP\\"),
    add(["https://aka.ms/vscollect.exe"], String.raw`C:\TEMP\collect.exe`),
    add(["https://aka.ms/vs/17/release/channel"], String.raw`C:\TEMP\VisualStudio.chman`),
    run(
      [
        String.raw`curl -SL --output C:\TEMP\vs_buildtools.exe https://aka.ms/vs/17/release/vs_buildtools.exe ` + "`",
        String.raw`    && (call C:\TEMP\Install.cmd C:\TEMP\vs_buildtools.exe --quiet --wait --norestart --nocache install ` + "`",
        String.raw`        --installPath "%ProgramFiles(x86)%\Microsoft Visual Studio\2022\BuildTools" ` + "`",
        String.raw`        --channelUri C:\TEMP\VisualStudio.chman ` + "`",
        String.raw`        --installChannelUri C:\TEMP\VisualStudio.chman` +
          options("add", components) +
          options("remove", excluded) +
          ") `",
        String.raw`    && del /q C:\TEMP\vs_buildtools.exe`,
      ].join("\n"),
    ),
  );
}

/** Runs a command in Cygwin's login shell. */
const cygwinShell = (command: string): Dockerfile => run(String.raw`${CYGWIN_ROOT}\bin\bash.exe --login -c "${command}"`);

const cygwinSetup = (packages: readonly string[]): Dockerfile =>
  withTempCleanup(
    run(
      String.raw`${CYGWIN_ROOT}\setup-x86_64.exe ${CYGWIN_SETUP_ARGS.join(" ")} --root ${CYGWIN_ROOT} --site ${CYGWIN_SITE} --symlink-type=native --packages ${[...new Set(packages)].sort().join(",")}`,
    ),
  );

function installCygwin(opts: { aslrOff: boolean; msvsTools: boolean; packages: readonly string[] }): Dockerfile {
  return dockerfile(
    env([["CYGWIN", "nodosfilewarning winsymlinks:native"]]),
    prependPath([String.raw`${CYGWIN_ROOT}\bin`]),
    add(["https://www.cygwin.com/setup-x86_64.exe"], String.raw`${CYGWIN_ROOT}\setup-x86_64.exe`),
    // CygSymPathy turns Cygwin symlinks into native ones; it must run after every other post-install script.
    run(String.raw`mkdir ${CYGWIN_ROOT}\lib\cygsympathy && mkdir ${CYGWIN_ROOT}\etc\postinstall`),
    add(
      ["https://raw.githubusercontent.com/metastack/cygsympathy/master/cygsympathy.cmd"],
      `${CYGWIN_ROOT}\\lib\\cygsympathy\\`,
    ),
    add(
      ["https://raw.githubusercontent.com/metastack/cygsympathy/master/cygsympathy.sh"],
      String.raw`${CYGWIN_ROOT}\lib\cygsympathy\cygsympathy`,
    ),
    run(String.raw`mklink ${CYGWIN_ROOT}\etc\postinstall\zp_zcygsympathy.sh ${CYGWIN_ROOT}\lib\cygsympathy\cygsympathy`),
    opts.packages.length > 0 && cygwinSetup(opts.packages),
    opts.aslrOff && run(String.raw`${CYGWIN_ROOT}\bin\peflags -d0 ${CYGWIN_ROOT}\bin\cygwin1.dll`),
    opts.msvsTools &&
      dockerfile(
        add(["https://github.com/metastack/msvs-tools/archive/refs/heads/master.tar.gz"], String.raw`C:\TEMP\msvs-tools.tar.gz`),
        cygwinShell(
          "cd /tmp && tar -xf /cygdrive/c/TEMP/msvs-tools.tar.gz && cp msvs-tools-master/msvs-detect msvs-tools-master/msvs-promote-path /bin && rm -rf /cygdrive/c/TEMP/msvs-tools/*",
        ),
      ),
    run(String.raw`awk -i inplace "/(^#)|(^$)/{print;next}{$4=""noacl,""$4; print}" ${CYGWIN_ROOT}\etc\fstab`),
  );
}

/** Cygwin git's set-up, as gitInit on Linux (see there for gc.autoDetach), plus long paths and safe directories. */
function cygwinGitInit(safeDirectories: readonly string[]): Dockerfile {
  const commands = [
    "git config --global user.email 'docker@example.com'",
    "git config --global user.name 'Docker'",
    "git config --system core.longpaths true",
    "git config --global gc.autoDetach false",
    ...safeDirectories.map((dir) => `git config --global --add safe.directory ${dir}`),
  ];
  return dockerfile(env([["HOME", OPAM_HOME]]), cygwinShell(commands.join(" && ")));
}

const WINGET_BUNDLE = "Microsoft.DesktopAppInstaller_8wekyb3d8bbwe.";
const WINGET_DIR = String.raw`C:\Program Files\winget-cli`;

/** A stage that unpacks the WinGet release into C:\Program Files\winget-cli. */
function wingetStage(distro: WindowsDistro): Dockerfile {
  const zip = `C:\\TEMP\\${WINGET_BUNDLE}zip`;
  const move = (file: string) => run(String.raw`move "C:\TEMP\winget-cli\\${file}" "${WINGET_DIR}\"`);
  return dockerfile(
    header(distro, "winget-builder"),
    add([`https://github.com/microsoft/winget-cli/releases/latest/download/${WINGET_BUNDLE}msixbundle`], zip),
    powershell(String.raw`Expand-Archive -LiteralPath ${zip} -DestinationPath C:\TEMP\winget-cli -Force`),
    run(String.raw`ren C:\TEMP\winget-cli\AppInstaller_x64.msix AppInstaller_x64.zip`),
    powershell(
      String.raw`Expand-Archive -LiteralPath C:\TEMP\winget-cli\AppInstaller_x64.zip -DestinationPath C:\TEMP\winget-cli\ -Force`,
    ),
    crunch(dockerfile(run(`mkdir "${WINGET_DIR}"`), move("winget.exe"), move("WindowsPackageManager.dll"), move("resources.pri"))),
  );
}

function wingetSetup(facts: WindowsFacts): Dockerfile {
  const settings = String.raw`$path=(Join-Path $env:LOCALAPPDATA 'Packages\Microsoft.DesktopAppInstaller_8wekyb3d8bbwe\LocalState'); New-Item $path -ItemType Directory -Force; '{ "$schema": "https://aka.ms/winget-settings.schema.json", "telemetry": { "disable": "true" } }' | Out-File -encoding ASCII (Join-Path $path 'settings.json')`;
  return dockerfile(
    installVcRedist(),
    copy([WINGET_DIR], WINGET_DIR, { from: "winget-builder" }),
    prependPath([WINGET_DIR]),
    // Inside `powershell -Command "..."`, a literal double quote is written as four.
    powershell(settings.split('"').join('""""')),
    ...facts.wingetPackages.map((pkg) =>
      run(`winget install --exact --accept-source-agreements --accept-package-agreements ${pkg}`),
    ),
  );
}

function buildOpams(opam: OpamSources, pins: PinStyle, msvc: boolean): Dockerfile {
  const path = 'env PATH="/tmp/opam/bootstrap/ocaml/bin:$PATH"';
  return dockerfile(
    cygwinGitInit(["/tmp/opam-sources"]),
    cygwinShell(
      `git clone ${opam.url} /tmp/opam && cd /tmp/opam && git checkout ${pinOf(opam.bootstrap, pins)} && sed -i \\"s/make -j[0-9]*/make -j\\$NUMBER_OF_PROCESSORS/g\\" shell/bootstrap-ocaml.sh && make compiler ${msvc ? "OCAML_PORT=msvc64" : ""}`,
    ),
    ...windowsBuilds(opam).map((b) => {
      const dir = `/tmp/opam-build-${b.branch}`;
      const configure = `./configure --enable-cold-check ${msvc ? "" : "--with-private-runtime"}${b.vendoredDeps ? " --with-vendored-deps" : ""}${b.zeroInstallSolver ? " --with-0install-solver" : ""}`;
      return dockerfile(
        cygwinShell(
          `git clone /tmp/opam ${dir} && cd ${dir} && git config --global --add safe.directory ${dir} && git checkout ${pinOf(b, pins)}`,
        ),
        cygwinShell(
          `cd ${dir} && ${path} ${configure} && ${path} make && make install && mv /usr/local/bin/opam.exe /usr/local/bin/opam-${b.branch}.exe`,
        ),
      );
    }),
  );
}

const windowsBuilds = (opam: OpamSources): readonly OpamBuild[] => opam.builds.filter((b) => b.windows);

function copyOpams(opam: OpamSources, mingw: boolean): Dockerfile {
  const bin = String.raw`C:\cygwin64\usr\local\bin`;
  // Docker on Windows cannot copy into C:\cygwin64\usr\local\bin directly: copy to C:\ and move.
  return dockerfile(
    mingw &&
      dockerfile(
        copy([String.raw`${bin}\Opam.Runtime.amd64`], String.raw`C:\Opam.Runtime.amd64`, { from: "opam-builder" }),
        run(String.raw`move C:\Opam.Runtime.amd64 ${bin}`),
      ),
    ...windowsBuilds(opam).map((b) =>
      dockerfile(
        copy([String.raw`${bin}\opam-${b.branch}.exe`], `C:\\${b.publicName}.exe`, { from: "opam-builder" }),
        run(`move C:\\${b.publicName}.exe ${bin}`),
        ...b.aliases.map((alias) => run(`mklink C:\\cygwin64\\bin\\${alias}.exe ${bin}\\${b.publicName}.exe`)),
      ),
    ),
  );
}

const linkDefaultOpam = (opam: OpamSources): Dockerfile =>
  run(String.raw`mklink C:\cygwin64\usr\local\bin\opam.exe C:\cygwin64\usr\local\bin\opam-${opam.windowsDefault.branch}.exe`);

/** MSVC: persist the vcvarsall environment machine-wide, PATH ordered MSVC, then Cygwin, then Windows. */
function persistMsvcEnvironment(opam: OpamSources): Dockerfile {
  const cygwinPaths = String.raw`C:\cygwin64\usr\local\bin;C:\cygwin64\bin`;
  const script =
    String.raw`powershell -Command "$before = (Get-Content C:\path_before.txt).Trim(); $content = Get-Content C:\msvc_env.txt; foreach ($line in $content) { if ($line -match '^(INCLUDE|LIB|LIBPATH)=(.*)$') { [Environment]::SetEnvironmentVariable($matches[1], $matches[2], 'Machine') } elseif ($line -match '^PATH=(.*)$') { $vcPath = $matches[1]; $msvcPaths = ($vcPath -split ';' | Where-Object { $before -notlike \"*$_*\" -and $_ -ne '' }) -join ';'; $finalPath = \"$msvcPaths;` +
    cygwinPaths +
    String.raw`;$before\"; [Environment]::SetEnvironmentVariable('PATH', $finalPath, 'Machine') } }"`;
  return dockerfile(
    run(String.raw`powershell -Command "[Environment]::GetEnvironmentVariable('PATH', 'Machine')" > C:\path_before.txt`),
    run(`call ${VCVARSALL} amd64 && set > C:\\msvc_env.txt`),
    run(script),
    run(String.raw`del C:\path_before.txt C:\msvc_env.txt`),
    linkDefaultOpam(opam),
  );
}

function mingwStages(distro: WindowsDistro, facts: WindowsFacts, opam: OpamSources, pins: PinStyle): Dockerfile {
  return dockerfile(
    escapeDirective("`"),
    comment(GENERATED_BY),
    wingetStage(distro),
    header(distro, "opam-builder"),
    sanitizeRegistryPath(),
    // g++ lets opam-putenv and opam's internal solver build.
    installCygwin({
      aslrOff: facts.aslrOff,
      msvsTools: false,
      packages: ["mingw64-x86_64-gcc-g++", "mingw64-i686-gcc-g++", ...MINGW_PACKAGES],
    }),
    buildOpams(opam, pins, false),
    header(distro),
    label([["distro_style", "windows"]]),
    user("ContainerAdministrator"),
    sanitizeRegistryPath(),
    wingetSetup(facts),
    // Docker on Windows fails to copy C:\cygwin64 between stages, so Cygwin is installed again here.
    installCygwin({ aslrOff: facts.aslrOff, msvsTools: false, packages: [...MINGW_PACKAGES, ...OPAM_RUNTIME_PACKAGES] }),
    copyOpams(opam, true),
    linkDefaultOpam(opam),
    prependPath([String.raw`C:\cygwin64\usr\local\bin`, String.raw`C:\cygwin64\bin`]),
  );
}

function msvcStages(distro: WindowsDistro, facts: WindowsFacts, opam: OpamSources, pins: PinStyle): Dockerfile {
  return dockerfile(
    escapeDirective("`"),
    comment(GENERATED_BY),
    wingetStage(distro),
    header(distro, "cygwin-msvc"),
    sanitizeRegistryPath(),
    installBuildTools([
      "Microsoft.VisualStudio.Workload.VCTools",
      "Microsoft.VisualStudio.Component.VC.Tools.x86.x64",
      "Microsoft.VisualStudio.Component.Windows11SDK.22621",
    ]),
    installCygwin({ aslrOff: facts.aslrOff, msvsTools: true, packages: MSVC_PACKAGES }),
    from("cygwin-msvc", { alias: "opam-builder" }),
    buildOpams(opam, pins, true),
    from("cygwin-msvc"),
    label([["distro_style", "windows"]]),
    user("ContainerAdministrator"),
    cygwinSetup(OPAM_RUNTIME_PACKAGES),
    wingetSetup(facts),
    copyOpams(opam, false),
    persistMsvcEnvironment(opam),
  );
}

/** The opam image of a Windows distro; like the Linux ones, its context is opam-repository. */
export function windowsOpamImage(distro: WindowsDistro, opam: OpamSources, pins: PinStyle): Dockerfile {
  const facts = distro.windows;
  const stages = facts.port === "mingw" ? mingwStages(distro, facts, opam, pins) : msvcStages(distro, facts, opam, pins);
  return dockerfile(
    stages,
    workdir(OPAM_HOME),
    cygwinGitInit(["/home/opam/opam-repository"]),
    copy(["."], OPAM_REPOSITORY),
    env([["OPAMROOT", String.raw`C:\opam\.opam`]]),
    run(`opam init -k git -a "${OPAM_REPOSITORY}" --bare --disable-sandboxing`),
    cygwinShell("rm -rf /cygdrive/c/opam/.opam/repo/default/.git"),
    copy(["Dockerfile"], "/Dockerfile.opam"),
  );
}
