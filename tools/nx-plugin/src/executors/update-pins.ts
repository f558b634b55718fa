/**
 * update-pins: looks up the heads of the opam branches and of opam-repository
 * (`git ls-remote`) and the digests of the base images (registry API), and
 * rewrites the pins in images/ that moved. With `check`, only reports them and
 * fails when any would move.
 *
 *   nx run images:update-pins            nx run images:update-pins --check
 */
import type { ExecutorContext } from "@nx/devkit";
import { parseReference, RegistryClient, realRunner, runChecked, scopedCredentials } from "../../../../libs/docker/src";
import { describeChange, parseLsRemoteTags, updatePins, type Upstream } from "../../../../libs/pins/src";
import { resolveSettings, type Settings } from "../settings";
import { say } from "./shared";
import { parseOptions, type UpdatePinsOptions } from "./options";

export type { UpdatePinsOptions };

/** Branch heads by `git ls-remote`, digests by the registry API; the password file's login goes only to its own registry. */
export function liveUpstream(settings: Pick<Settings, "auth" | "commands">): Upstream {
  const runner = realRunner(settings.commands);
  const client = new RegistryClient({ credentials: scopedCredentials(settings.auth).forRegistry });
  return {
    async branchHead(url, branch) {
      const out = await runChecked(runner, "git", ["ls-remote", url, `refs/heads/${branch}`]);
      const sha = out.stdout.split(/\s/)[0];
      if (!sha || !/^[0-9a-f]{40}$/.test(sha)) throw new Error(`${url} has no branch ${branch}`);
      return sha;
    },
    async tags(url) {
      const out = await runChecked(runner, "git", ["ls-remote", "--tags", url]);
      return parseLsRemoteTags(out.stdout);
    },
    async imageDigest(image, tag) {
      const manifest = await client.getManifest(parseReference(`${image}:${tag}`));
      if (!manifest) throw new Error(`${image}:${tag} does not exist`);
      return manifest.digest;
    },
  };
}

export default async function updatePinsExecutor(rawOptions: UpdatePinsOptions, context: ExecutorContext): Promise<{ success: boolean }> {
  let options: UpdatePinsOptions;
  let settings: Settings;
  try {
    options = parseOptions("update-pins", rawOptions);
    settings = resolveSettings(options, process.env, "nothing");
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n`);
    return { success: false };
  }
  try {
    const changes = await updatePins(context.root, liveUpstream(settings), { write: !options.check });
    for (const change of changes) say(describeChange(change));
    if (changes.length === 0) say("every pin is current");
    else if (options.check) say(`${changes.length} pin(s) would move; run nx run images:update-pins`);
    else say(`moved ${changes.length} pin(s); review with git diff images/`);
    return { success: !(options.check && changes.length > 0) };
  } catch (e) {
    process.stderr.write(`update-pins failed: ${(e as Error).message}\n`);
    return { success: false };
  }
}
